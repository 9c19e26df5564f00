"""Guideline rules engine for workers' compensation utilization review (MTUS first, then ODG).

Packages by step, each importing only those before it: model -> load -> language -> facts ->
checks -> durable -> decide -> tools -> ops -> cli. decide.pipeline.Engine wires a decision:
facts.build -> durable.encode -> durable.session (fire) -> durable.trace (events) ->
decide.aggregate (outcome) -> decide.letter (determination).
"""

__version__ = "0.1.0"
