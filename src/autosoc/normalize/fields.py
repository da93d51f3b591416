"""Names of the normalized (OCSF-shaped) columns, so nobody retypes them."""

EVENT_ID = "event_id"  # OCSF metadata.uid: content hash, stable across replays
FAMILY = "family"  # windows | cloudtrail | syslog | json
ORIGIN_SOURCE = "origin.source"
ORIGIN_PATH = "origin.path"
ORIGIN_RECORD = "origin.record"
TIME = "time"
CLASS_UID = "class_uid"
CATEGORY_UID = "category_uid"
LOG_NAME = "metadata.log_name"
EVENT_CODE = "metadata.event_code"
PRODUCT = "metadata.product.name"
HOST = "device.hostname"
USER = "actor.user.name"
USER_UID = "actor.user.uid"
PROCESS_PATH = "process.file.path"
PROCESS_CMD = "process.cmd_line"
PROCESS_PID = "process.pid"
PARENT_PATH = "process.parent_process.file.path"
PARENT_CMD = "process.parent_process.cmd_line"
FILE_PATH = "file.path"
SRC_IP = "src_endpoint.ip"
SRC_PORT = "src_endpoint.port"
DST_IP = "dst_endpoint.ip"
DST_PORT = "dst_endpoint.port"
DST_HOST = "dst_endpoint.hostname"
CLOUD_PROVIDER = "cloud.provider"
CLOUD_ACCOUNT = "cloud.account.uid"
CLOUD_REGION = "cloud.region"
API_OPERATION = "api.operation"
API_SERVICE = "api.service.name"
USER_AGENT = "http_request.user_agent"
# identity / sign-in (OCSF Authentication 3002, Account Change 3001)
STATUS = "status"  # "Success" | "Failure" (OCSF status), null when the source does not say
STATUS_DETAIL = "status_detail"  # the source's result code or reason ("50126", "MFA denied", ...)
AUTH_FACTOR = "auth_factor"  # MFA method / result text where the source has it ("push denied")
DEVICE_UID = "device.uid"  # a sign-in's device id, or an endpoint's agent/host id
USER_DEPARTMENT = "actor.user.department"  # from the identity inventory (enrich), or the log
SRC_COUNTRY = "src_endpoint.location.country"  # ISO 3166 alpha-2, from the log or GeoIP
SRC_CITY = "src_endpoint.location.city"
SRC_LAT = "src_endpoint.location.lat"  # decimal degrees as text, from the log or GeoIP
SRC_LONG = "src_endpoint.location.long"
SRC_ASN = "src_endpoint.autonomous_system.number"
SRC_ASN_ORG = "src_endpoint.autonomous_system.name"
APP_NAME = "app.name"  # the application a sign-in or consent is for (OAuth client / service principal)
APP_UID = "app.uid"
# network activity (OCSF Network Activity 4001)
NET_PROTOCOL = "connection_info.protocol_name"
BYTES_OUT = "traffic.bytes_out"  # integer as text
BYTES_IN = "traffic.bytes_in"

#: optional: the record's flattened fields as JSON text (what the event lake keeps of the raw record)
RAW = "raw"
#: a raw-frame column: every value of the row joined by newlines (names starting with ``__`` left
#: out), what Sigma keyword searches read (see :func:`autosoc.normalize.columns.build_raw_frame`)
KEYWORD_TEXT = "__text__"

#: every OCSF-shaped string column, in display order
OCSF_STRING_COLUMNS = (
    LOG_NAME, EVENT_CODE, PRODUCT, HOST, USER, USER_UID, PROCESS_PATH, PROCESS_CMD, PROCESS_PID,
    PARENT_PATH, PARENT_CMD, FILE_PATH, SRC_IP, SRC_PORT, DST_IP, DST_PORT, DST_HOST,
    CLOUD_PROVIDER, CLOUD_ACCOUNT, CLOUD_REGION, API_OPERATION, API_SERVICE, USER_AGENT,
    STATUS, STATUS_DETAIL, AUTH_FACTOR, DEVICE_UID, USER_DEPARTMENT, SRC_COUNTRY, SRC_CITY, SRC_LAT, SRC_LONG,
    SRC_ASN, SRC_ASN_ORG, APP_NAME, APP_UID, NET_PROTOCOL, BYTES_OUT, BYTES_IN,
)
