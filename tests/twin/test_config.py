"""Resolver settings from FACTORYOS_RESOLVER_* variables: defaults, and refusals naming them."""

import pytest

from factoryos.twin.config import ResolverConfig
from factoryos.twin.errors import ResolverConfigError


def test_defaults_make_a_root_node_named_after_the_host() -> None:
    config = ResolverConfig.from_env({})

    assert config.parent_url is None and config.parent_key is None
    assert config.node  # the host name
    assert (config.cache_size, config.ttl_s, config.negative_ttl_s) == (20_000, 60.0, 5.0)


def test_every_variable_is_read() -> None:
    env = {
        "FACTORYOS_RESOLVER_NODE": "plant-7",
        "FACTORYOS_RESOLVER_PARENT_URL": "https://ind.example.cn:8443/",
        "FACTORYOS_RESOLVER_PARENT_KEY": "fos_abc",
        "FACTORYOS_RESOLVER_TIMEOUT_S": "0.5",
        "FACTORYOS_RESOLVER_ATTEMPTS": "3",
        "FACTORYOS_RESOLVER_CACHE_SIZE": "100",
        "FACTORYOS_RESOLVER_TTL_S": "30",
        "FACTORYOS_RESOLVER_NEGATIVE_TTL_S": "1",
    }

    assert ResolverConfig.from_env(env) == ResolverConfig(
        node="plant-7",
        parent_url="https://ind.example.cn:8443",  # the trailing slash dropped
        parent_key="fos_abc",
        timeout_s=0.5,
        attempts=3,
        cache_size=100,
        ttl_s=30.0,
        negative_ttl_s=1.0,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PARENT_URL", "ftp://parent", "PARENT_URL: 'ftp://parent' is not an http(s)"),
        ("PARENT_URL", "parent:8000", "PARENT_URL:"),
        ("PARENT_URL", "http://u:p@parent", "PARENT_URL: no query, fragment or user"),
        ("TIMEOUT_S", "soon", "TIMEOUT_S: 'soon' is not a number"),
        ("TIMEOUT_S", "600", "TIMEOUT_S: 600.0 is not 0.05 to 60"),
        ("ATTEMPTS", "0", "ATTEMPTS: 0 is not 1 to 5"),
        ("CACHE_SIZE", "1.5", "CACHE_SIZE: '1.5' is not a number"),
        ("NEGATIVE_TTL_S", "-1", "NEGATIVE_TTL_S: -1.0 is not 0 to 86400"),
    ],
)
def test_unusable_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ResolverConfigError) as caught:
        ResolverConfig.from_env({f"FACTORYOS_RESOLVER_{name}": value})

    assert f"FACTORYOS_RESOLVER_{message}" in str(caught.value)
