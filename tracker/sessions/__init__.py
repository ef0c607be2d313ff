"""One user's work (video, objects, prompts, masks, files) and the open sessions."""
