"""focusflow.sources (see DESIGN.md section 2)."""
