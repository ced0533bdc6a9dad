"""focusflow.k8s_export (see DESIGN.md section 2)."""
