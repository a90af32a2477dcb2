"""Report layer: meta-analysis (``bitframe.report.meta``) and inline SVG figures
(``bitframe.report.figures``).

Nothing is imported here so that ``import bitframe.report`` stays light; import
the submodules directly.
"""
