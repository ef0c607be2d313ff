"""The page: its components and layout, the events that turn user actions into handler calls, and the models it offers."""
