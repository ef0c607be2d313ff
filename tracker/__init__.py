"""The Gradio tracking app: upload a video, click objects, track them, export the masks."""
