"""Parts of the Elasticsearch store (:mod:`soc.store.elasticsearch`): ``shadow`` (the
query fields indexed beside each document), ``templates`` (ECS mappings, index
templates, retention), ``dsl`` (the query model in query DSL), ``client`` (client
options and error translation)."""
