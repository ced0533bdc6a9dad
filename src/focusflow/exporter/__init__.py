"""focusflow.exporter (see DESIGN.md section 2)."""
