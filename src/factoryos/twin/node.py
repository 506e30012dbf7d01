"""One identifier node: its registry and its resolver, kept consistent with each other.

Every change made through the node reaches the resolver's cache at once (a registration
forgets its handle; a new prefix forgets everything, since what the node serves changed).
The API and the bench use this class; the registry and resolver stay usable alone.
"""

from collections.abc import Sequence

import httpx

from factoryos.store.catalog import Catalog
from factoryos.store.identifier_registry import IdentifierStore, StoredPrefix
from factoryos.twin.answers import Resolution
from factoryos.twin.config import ResolverConfig
from factoryos.twin.errors import TwinError
from factoryos.twin.parent import HttpParent
from factoryos.twin.registry import IdentifierRegistry, RecordInput, Registered
from factoryos.twin.resolver import Resolver


class IdentifierNode:
    """The node's identifier registry and resolver. Registration methods are synchronous
    (the catalog): call them from worker threads; :meth:`resolve` is a coroutine."""

    def __init__(self, registry: IdentifierRegistry, resolver: Resolver) -> None:
        self.registry = registry
        self.resolver = resolver

    @classmethod
    def open(
        cls,
        catalog: Catalog,
        config: ResolverConfig,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> "IdentifierNode":
        """A node over ``catalog``, forwarding to ``config.parent_url`` when it is set."""
        registry = IdentifierRegistry(IdentifierStore(catalog))
        parent = None
        if config.parent_url is not None:
            parent = HttpParent(
                config.parent_url, config.parent_key, config.timeout_s, config.attempts, transport
            )
        return cls(registry, Resolver(registry, config, parent))

    @property
    def name(self) -> str:
        return self.resolver.node

    def allocate(
        self, prefix: str, tenant_id: int, actor: str, description: str = ""
    ) -> tuple[StoredPrefix, bool]:
        allocated = self.registry.allocate(prefix, tenant_id, actor, description)
        self.resolver.clear()
        return allocated

    def claim(
        self, prefix: str, tenant_id: int, actor: str, description: str = ""
    ) -> tuple[StoredPrefix, bool]:
        claimed = self.registry.claim(prefix, tenant_id, actor, description)
        self.resolver.clear()
        return claimed

    def register(self, handle: str, record: RecordInput, tenant_id: int) -> Registered:
        registered = self.registry.register(handle, record, tenant_id)
        self.resolver.forget(registered.identifier.handle)
        return registered

    def register_many(self, tenant_id: int, items: Sequence[tuple[str, RecordInput]]) -> list[str]:
        handles = self.registry.register_many(tenant_id, items)
        for handle in handles:
            self.resolver.forget(handle)
        return handles

    async def resolve(self, handle: str, hops: int = 0) -> Resolution:
        return await self.resolver.resolve(handle, hops)

    async def resolve_many(
        self, handles: Sequence[str], hops: int = 0
    ) -> list[Resolution | TwinError]:
        return await self.resolver.resolve_many(handles, hops)


__all__ = ["IdentifierNode"]
