"""Sigma streaming detector: Sigma rules compiled once into Python closures.

* :mod:`.loader` reads rule files with pySigma and collects per-file errors.
* :mod:`.fieldmap` and :mod:`.logsource` map Sigma field names and log sources to ECS.
* :mod:`.compiler` turns a rule's detection into ``match(event) -> bool``.
* :mod:`.correlation` runs Sigma correlation rules over in-memory windows.
* :mod:`.engine` wires them into :class:`SigmaDetector`, a streaming detector.
"""

from detectors.sigma.engine import SigmaDetector

__all__ = ["SigmaDetector"]
