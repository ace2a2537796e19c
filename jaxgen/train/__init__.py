"""The one train loop shared by every model family."""
