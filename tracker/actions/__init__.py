"""What each user action does, as plain functions over a session and the model calls."""
