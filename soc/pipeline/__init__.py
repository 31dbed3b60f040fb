"""The pipeline: collectors -> spool -> parse -> enrich -> detect -> store -> alerts.

``soc.pipeline.engine`` alone wires the stages; each stage gets its inputs and
outputs, never its neighbour.
"""
