"""Query mode: a Sigma rule run backwards over stored events.

* :mod:`.config` holds what both modes share: the field map, keyword fields and log
  sources of ``configs/sigma.yaml``, and the errors a conversion reports.
* :mod:`.duckdb_sql` converts a rule into a DuckDB SQL ``WHERE`` body (bound parameters)
  over the embedded store's ``events`` table.
* :mod:`.lucene` converts a rule into a Lucene query string (pysigma-backend-elasticsearch)
  for the Elasticsearch store.
* :mod:`.hunt` finds rules by file or id and runs them on whichever store it is given.

Query mode and the streaming matcher (:mod:`detectors.sigma.compiler`) must return the
same matches on the same events; ``tests/test_sigma_query.py`` checks it over the datasets.
"""

from detectors.sigma.query.config import ConversionError, QueryConfig
from detectors.sigma.query.duckdb_sql import SqlQuery, rule_to_sql
from detectors.sigma.query.hunt import Hunter, HuntError, HuntResult, hunt

__all__ = [
    "ConversionError",
    "HuntError",
    "HuntResult",
    "Hunter",
    "QueryConfig",
    "SqlQuery",
    "hunt",
    "rule_to_sql",
]
