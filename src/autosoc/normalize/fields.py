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

#: every OCSF-shaped string column, in display order
OCSF_STRING_COLUMNS = (
    LOG_NAME, EVENT_CODE, PRODUCT, HOST, USER, USER_UID, PROCESS_PATH, PROCESS_CMD, PROCESS_PID,
    PARENT_PATH, PARENT_CMD, FILE_PATH, SRC_IP, SRC_PORT, DST_IP, DST_PORT, DST_HOST,
    CLOUD_PROVIDER, CLOUD_ACCOUNT, CLOUD_REGION, API_OPERATION, API_SERVICE, USER_AGENT,
)
