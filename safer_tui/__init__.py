"""SAFER explorer's terminal interface (Textual). Reads workspaces; never imports torch."""
