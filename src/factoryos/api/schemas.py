"""The API's request and response bodies."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from factoryos.api.params import QualityName
from factoryos.store.catalog import ApiKeyInfo, AssetNode, Principal, Role, TagInfo
from factoryos.store.users import PlatformOperator, UserInfo

RoleName = Literal["viewer", "operator", "engineer", "admin"]
Number = int | float


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class Me(BaseModel):
    tenant: str | None = Field(description="None for a platform operator.")
    role: RoleName | None = Field(description="None for a platform operator.")
    key_name: str = Field(description="The API key's name, or 'user <username>'.")
    platform_operator: bool = False

    @classmethod
    def of(cls, p: "Principal | PlatformOperator") -> "Me":
        if isinstance(p, PlatformOperator):
            return cls(
                tenant=None, role=None, key_name=f"user {p.username}", platform_operator=True
            )
        return cls(tenant=p.tenant, role=p.role.label, key_name=p.key_name)


class TagOut(BaseModel):
    path: str = Field(description="Unified Namespace path site/area/line/cell/equipment/tag.")
    name: str
    unit: str
    data_type: str
    description: str
    range_low: float | None
    range_high: float | None

    @classmethod
    def of(cls, t: TagInfo) -> "TagOut":
        return cls(
            path=t.path,
            name=t.name,
            unit=t.unit,
            data_type=t.data_type,
            description=t.description,
            range_low=t.range_low,
            range_high=t.range_high,
        )


class AssetOut(BaseModel):
    level: Literal["site", "area", "line", "cell", "equipment"]
    name: str
    path: str
    description: str
    children: list["AssetOut"]
    tags: list[TagOut]

    @classmethod
    def of(cls, n: AssetNode) -> "AssetOut":
        return cls.model_validate(
            {
                "level": n.level,
                "name": n.name,
                "path": n.path,
                "description": n.description,
                "children": [cls.of(c) for c in n.children],
                "tags": [TagOut.of(t) for t in n.tags],
            }
        )


class RawHistory(BaseModel):
    """Samples as columns: ``ts[i]``, ``value[i]`` and ``quality[i]`` are one sample."""

    tag: str
    unit: str
    start: str
    end: str
    count: int
    truncated: bool = Field(description="True when ``limit`` cut the result short.")
    ts: list[str]
    value: list[float | None] = Field(description="null for samples without a value.")
    quality: list[QualityName]


class AggHistory(BaseModel):
    """Aggregates per time bucket, as columns keyed by aggregate name."""

    tag: str
    unit: str
    start: str
    end: str
    every: str
    bucket: list[str] = Field(description="Start of each bucket.")
    columns: dict[str, list[Number | None]]


class LastValue(BaseModel):
    tag: str
    unit: str
    ts: str | None = Field(description="null when the tag has no sample yet.")
    value: float | None
    quality: QualityName | None


class KeyOut(BaseModel):
    id: int
    name: str
    role: RoleName
    created_at: AwareDatetime
    expires_at: AwareDatetime | None
    revoked: bool

    @classmethod
    def of(cls, k: ApiKeyInfo) -> "KeyOut":
        return cls(
            id=k.id,
            name=k.name,
            role=k.role.label,
            created_at=k.created_at,
            expires_at=k.expires_at,
            revoked=k.revoked,
        )


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: RoleName
    expires_at: AwareDatetime | None = None

    @property
    def role_value(self) -> Role:
        return Role.parse(self.role)


class KeyCreated(KeyOut):
    key: str = Field(description="The secret; shown only in this response.")


class SiteRegistered(BaseModel):
    site: str
    tenant: str
    tags: int = Field(description="How many tags the site has.")


class LiveHello(BaseModel):
    """The first message a live WebSocket client sends."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=2048, description="An API key or a user's access token.")
    tags: list[str] = Field(min_length=1, max_length=1000)


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=128)


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid.")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=12, max_length=256)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    password: str = Field(min_length=12, max_length=256)
    role: RoleName = "viewer"


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=256)


class UserOut(BaseModel):
    id: int
    username: str
    role: RoleName
    disabled: bool

    @classmethod
    def of(cls, u: UserInfo) -> "UserOut":
        return cls(id=u.id, username=u.username, role=u.role.label, disabled=u.disabled)


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    admin_username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    admin_password: str = Field(min_length=12, max_length=256)


class TenantOut(BaseModel):
    id: int
    name: str
