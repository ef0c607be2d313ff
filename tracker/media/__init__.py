"""Pictures, videos and files: uploads, drawing, the timeline, exports."""
