"""The policy handbook (``rxpolicy doc``): the rules beside their sources, as HTML and Markdown pages."""
