"""The HTML report: chart data per case (``payload``, numpy only), extreme-keeping downsampling
(``downsample``), matplotlib SVG charts (``charts``, the ``report`` extra) and the page (``html``)."""
