"""Digital twins and identifiers: the identifier registry and its resolver (docs/identifiers.md).

A node keeps the identifiers registered under the prefixes it serves and resolves them; a
handle under a prefix it does not serve is forwarded to its parent node. Nothing here knows
HTTP routes or the CLI (they sit above): the API and ``factoryos bench resolve`` use
:class:`~factoryos.twin.node.IdentifierNode`.
"""
