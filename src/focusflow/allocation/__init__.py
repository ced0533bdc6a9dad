"""focusflow.allocation (see DESIGN.md section 2)."""
