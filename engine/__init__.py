"""Guideline rules engine for workers' compensation utilization review (MTUS first, then ODG).

Data flow, one module per step: yaml_source/loader (load) -> validate -> compiler (compile) ->
facts (assert facts) -> rete (fire) -> aggregate -> render. api.Engine wires them; cli wires the
command line.
"""

__version__ = "0.1.0"
