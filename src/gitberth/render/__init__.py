"""Plan reviews for people and machines: one JSON report model, three ways to print it.

:mod:`~gitberth.render.report` turns a :class:`~gitberth.core.review.Review` (plus what a
server said about secrets) into :class:`~gitberth.render.report.PlanReport`, the documented
JSON contract in ``schemas/plan.schema.json``. The text and markdown renderers read only that
report, so every format shows the same facts, and none of them can show a secret value because
the report has no place for one.
"""
