"""Who may call what: every route of the API and web UI, and the access it needs, in one
table. ``create_app`` refuses to build an app with a route missing from it, and one
dependency of the whole app (``authorize``) enforces it before any handler runs, so a
handler never decides on access itself.

Access levels:

- ``PUBLIC``: no credential (health, login, the web page shell, the API description);
- ``ANYONE``: any valid credential, platform operators included (who am I, log out);
- ``PLATFORM``: platform operators only (tenants); they hold no role in any tenant;
- a :class:`Role`: a credential of a tenant with at least that role; the handler sees only
  that tenant's data.
"""

from enum import StrEnum

from factoryos.store.catalog import Role


class Open(StrEnum):
    PUBLIC = "public"
    ANYONE = "anyone"
    PLATFORM = "platform"


Access = Role | Open
PUBLIC, ANYONE, PLATFORM = Open.PUBLIC, Open.ANYONE, Open.PLATFORM
WS = "WS"
"""The method of a WebSocket route in the table."""

RULES: dict[tuple[str, str], Access] = {
    # system
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/ready"): PUBLIC,
    ("GET", "/api/me"): ANYONE,
    ("GET", "/metrics"): Role.VIEWER,
    # people: sessions, accounts, tenants
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/refresh"): PUBLIC,
    ("POST", "/api/auth/logout"): PUBLIC,
    ("POST", "/api/auth/logout-all"): ANYONE,
    ("POST", "/api/auth/password"): ANYONE,
    ("GET", "/api/users"): Role.ADMIN,
    ("POST", "/api/users"): Role.ADMIN,
    ("PATCH", "/api/users/{user_id}"): Role.ADMIN,
    ("GET", "/api/tenants"): PLATFORM,
    ("POST", "/api/tenants"): PLATFORM,
    # machine credentials
    ("GET", "/api/keys"): Role.ADMIN,
    ("POST", "/api/keys"): Role.ADMIN,
    ("DELETE", "/api/keys/{key_id}"): Role.ADMIN,
    # the asset model and configuration
    ("GET", "/api/assets"): Role.VIEWER,
    ("GET", "/api/tags"): Role.VIEWER,
    ("GET", "/api/tags/{path:path}"): Role.VIEWER,
    ("POST", "/api/sites"): Role.ENGINEER,
    # history and live data
    ("GET", "/api/history/raw"): Role.VIEWER,
    ("GET", "/api/history/agg"): Role.VIEWER,
    ("GET", "/api/history/resample"): Role.VIEWER,
    ("GET", "/api/last"): Role.VIEWER,
    ("GET", "/api/export"): Role.VIEWER,
    (WS, "/api/live"): Role.VIEWER,
    # write-back to devices
    ("POST", "/api/tags/{path:path}/write"): Role.ENGINEER,
    ("GET", "/api/audit/writes"): Role.ENGINEER,
    # web UI shell and API description (they hold no data; the page calls the API)
    ("GET", "/"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    # energy (apps/energy)
    ("GET", "/api/energy/setup"): Role.VIEWER,
    ("GET", "/api/energy/place"): Role.VIEWER,
    ("GET", "/api/energy/shifts"): Role.VIEWER,
    ("GET", "/api/energy/products"): Role.VIEWER,
    ("GET", "/api/energy/profile"): Role.VIEWER,
    ("GET", "/api/energy/air"): Role.VIEWER,
    ("POST", "/api/energy/carbon/reports"): Role.ENGINEER,
    ("GET", "/api/energy/carbon/reports"): Role.VIEWER,
    ("GET", "/api/energy/carbon/reports/{period}/{version}"): Role.VIEWER,
    ("GET", "/api/energy/carbon/reports/{period}/{version}/pdf"): Role.VIEWER,
    ("GET", "/api/energy/carbon/lots"): Role.VIEWER,
    ("GET", "/api/energy/carbon/pact"): Role.VIEWER,
    # OEE (apps/oee)
    ("GET", "/api/oee/setup"): Role.VIEWER,
    ("GET", "/api/oee/equipment"): Role.VIEWER,
    ("GET", "/api/oee/equipment/shifts"): Role.VIEWER,
    ("GET", "/api/oee/equipment/days"): Role.VIEWER,
    ("GET", "/api/oee/equipment/products"): Role.VIEWER,
    ("GET", "/api/oee/line"): Role.VIEWER,
    ("GET", "/api/oee/site"): Role.VIEWER,
    ("GET", "/api/oee/losses"): Role.VIEWER,
    ("GET", "/api/oee/report"): Role.VIEWER,
    ("GET", "/api/oee/reasons"): Role.VIEWER,
    ("POST", "/api/oee/reasons"): Role.OPERATOR,
    ("GET", "/oee"): PUBLIC,  # the OEE board's page shell (no data: it calls the API)
    # alarms (apps/alarms): operators act on them, everyone sees them
    ("GET", "/api/alarms"): Role.VIEWER,
    ("GET", "/api/alarms/history"): Role.VIEWER,
    ("GET", "/api/alarms/kpi"): Role.VIEWER,
    ("POST", "/api/alarms/{name}/ack"): Role.OPERATOR,
    ("POST", "/api/alarms/{name}/shelve"): Role.OPERATOR,
    ("POST", "/api/alarms/{name}/unshelve"): Role.OPERATOR,
    ("POST", "/api/alarms/{name}/out-of-service"): Role.OPERATOR,
    ("POST", "/api/alarms/{name}/return-to-service"): Role.OPERATOR,
    ("GET", "/alarms"): PUBLIC,  # the console's page shell (no data: it calls the API)
    # predictive maintenance (apps/maintenance): engineers train and choose models
    ("GET", "/api/maintenance/health"): Role.VIEWER,
    ("GET", "/api/maintenance/models"): Role.VIEWER,
    ("GET", "/api/maintenance/models/promotions"): Role.VIEWER,
    ("GET", "/api/maintenance/models/artifact"): Role.ENGINEER,
    ("POST", "/api/maintenance/models/train"): Role.ENGINEER,
    ("POST", "/api/maintenance/models/promote"): Role.ENGINEER,
    ("POST", "/api/maintenance/models/rollback"): Role.ENGINEER,
    ("GET", "/api/maintenance/workorders"): Role.VIEWER,
    ("GET", "/api/maintenance/workorders/{order_id}"): Role.VIEWER,
    ("POST", "/api/maintenance/workorders"): Role.ENGINEER,
    ("POST", "/api/maintenance/workorders/{order_id}/assign"): Role.ENGINEER,
    ("POST", "/api/maintenance/workorders/{order_id}/start"): Role.OPERATOR,
    ("POST", "/api/maintenance/workorders/{order_id}/close"): Role.ENGINEER,
    ("POST", "/api/maintenance/workorders/{order_id}/cancel"): Role.ENGINEER,
    ("GET", "/api/maintenance/failure-codes"): Role.VIEWER,
    ("GET", "/api/maintenance/windows"): Role.VIEWER,
    ("GET", "/maintenance"): PUBLIC,  # the page shell (no data: it calls the API)
    # production scheduling (apps/scheduling): engineers (the planners) solve, pin, repair
    ("GET", "/api/schedules"): Role.VIEWER,
    ("POST", "/api/schedules"): Role.ENGINEER,
    ("GET", "/api/schedules/{job_id}"): Role.VIEWER,
    ("GET", "/api/schedules/{job_id}/export.csv"): Role.VIEWER,
    ("GET", "/api/schedules/{job_id}/export.json"): Role.VIEWER,
    ("GET", "/api/schedules/{job_id}/dispatch"): Role.VIEWER,
    ("POST", "/api/schedules/{job_id}/pin"): Role.ENGINEER,
    ("POST", "/api/schedules/{job_id}/reschedule"): Role.ENGINEER,
    ("POST", "/api/schedules/{job_id}/cancel"): Role.ENGINEER,
    ("GET", "/scheduling"): PUBLIC,  # the page shell (no data: it calls the API)
    # traceability (apps/trace): lines and partners capture events, everyone queries
    ("POST", "/api/epcis/capture"): Role.OPERATOR,
    ("GET", "/api/epcis/events"): Role.VIEWER,
    ("GET", "/api/epcis/events/{event_id:path}"): Role.VIEWER,
    ("GET", "/api/trace/genealogy"): Role.VIEWER,
    ("GET", "/api/trace/recall"): Role.VIEWER,
    ("GET", "/trace"): PUBLIC,  # the page shell (no data: it calls the API)
    # identifiers (twin/, docs/identifiers.md): the platform allocates prefixes, engineers
    # register under them; resolution answers any valid credential, whichever tenant (a
    # record is what its owner publishes; child nodes forward with a key of their parent)
    ("POST", "/api/identifiers/allocations"): PLATFORM,
    ("GET", "/api/identifiers/prefixes"): Role.VIEWER,
    ("POST", "/api/identifiers/prefixes"): Role.ENGINEER,
    ("GET", "/api/identifiers"): Role.VIEWER,
    ("PUT", "/api/identifiers/{handle:path}"): Role.ENGINEER,
    ("GET", "/api/resolve/{handle:path}"): ANYONE,
    ("POST", "/api/resolve"): ANYONE,
    # statistical process control (apps/trace/spc): inspectors post results and operators
    # acknowledge out-of-control alarms; everyone sees the charts
    ("GET", "/api/spc/characteristics"): Role.VIEWER,
    ("GET", "/api/spc/characteristics/{name}/chart"): Role.VIEWER,
    ("GET", "/api/spc/characteristics/{name}/capability"): Role.VIEWER,
    ("POST", "/api/spc/characteristics/{name}/inspections"): Role.OPERATOR,
    ("GET", "/api/spc/alarms"): Role.VIEWER,
    ("POST", "/api/spc/alarms/{alarm_id}/ack"): Role.OPERATOR,
    ("GET", "/spc"): PUBLIC,  # the page shell (no data: it calls the API)
    ("GET", "/energy"): PUBLIC,  # the page shell (no data: it calls the API)
}
