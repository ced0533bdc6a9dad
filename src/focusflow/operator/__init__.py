"""focusflow.operator (see DESIGN.md section 2)."""
