"""The audit report (`safer report`): one self-contained HTML file of an analysis. `gather`
reads the workspace, `charts` draws inline SVG, `page` holds the HTML blocks and the
`*sections` modules the sections, `write` puts them together."""
