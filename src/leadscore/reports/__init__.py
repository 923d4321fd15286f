"""Reports, audits and backtests: does the score actually predict who buys?

Why ``reports`` (plural): ``leadscore.report(...)`` is the library's report function, and a
subpackage named ``report`` would replace that attribute on the ``leadscore`` package as soon as
it is imported. The modules, bottom up:

* ``outcomes``: the backtest population and who converted (won deal in the horizon, or a label);
* ``frame``: the population scored as of a past date (compiled SQL with per-rule columns) + outcome;
* ``metrics``: AUC, lift/capture, tier and decile stats, calibration — on plain arrays;
* ``backtest``: one date, two models side by side (tier moves), rolling dates;
* ``audit_rules``, ``thresholds``, ``calibration``, ``suggest``: the audits;
* ``build``, ``findings``, ``charts``, ``html``: the report object, its sentences, charts and page.
"""
