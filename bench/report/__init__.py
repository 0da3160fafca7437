"""Report, the last stage of the flow: pure functions of stored records.

``leaderboard`` builds the tables once per render (a ``Leaderboard``), ``paired`` compares
every entry with a reference chosen on validation, ``document`` lays the tables out as blocks,
``formats`` writes blocks as Markdown / HTML / LaTeX, ``render`` picks the format,
``html_report`` adds figures (``plots``), and ``compare`` is the regression gate.
"""
