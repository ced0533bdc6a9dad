"""focusflow.scraper (see DESIGN.md section 2)."""
