"""AWS CloudTrail records (``eventVersion`` 1.10) and a normal day in the AWS accounts.

Who calls AWS normally: people through IAM Identity Center (console sign-ins and CLI sessions
from wherever they work), the CI pipeline's IAM user ``ci-deploy`` from GitHub-hosted runners
(Terraform bursts), the application's EC2 role (S3 data events on the uploads bucket) and AWS
services.  The finance reports bucket is read only by its reporting role.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any

from autosoc.simulate import ipplan
from autosoc.simulate.clock import HOUR, MINUTE, SECOND, day_start, iso_seconds
from autosoc.simulate.ids import alnum, guid
from autosoc.simulate.org import AwsAccount, Organisation, User
from autosoc.simulate.presence import Segment

Emit = Callable[[str, str, int, dict[str, Any]], None]  # account, region, us, record

TERRAFORM_UA = ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.74.0 "
                "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 os/linux "
                "lang/go#1.22.8 md/GOOS#linux md/GOARCH#amd64")
CLI_UA = ("aws-cli/2.18.5 md/awscrt#0.22.0 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12.6 md/pyimpl#CPython "
          "cfg/retry-mode#standard md/installer#exe command/{}")
CONSOLE_UA = "AWS Internal"
BOTO_UA = "Boto3/1.35.54 md/Botocore#1.35.54 ua/2.0 os/linux#6.1.112-124.190.amzn2023.x86_64 md/arch#x86_64 " \
          "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.54"
BUCKETS = {"uploads": "corp-app-uploads", "finance": "corp-finance-reports", "state": "corp-terraform-state",
           "artifacts": "corp-build-artifacts"}
SSO_ROLES = {"admin": "AWSReservedSSO_AdministratorAccess_5c1e0d8a27b4f3e9", "dev": "AWSReservedSSO_DeveloperAccess_"
             "91af2c3b7d6e4a10"}
TLS = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}
READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head")

_HOSTS = {"s3": "s3.amazonaws.com", "ec2": "ec2.{r}.amazonaws.com", "iam": "iam.amazonaws.com",
          "sts": "sts.amazonaws.com", "signin": "signin.aws.amazon.com", "kms": "kms.{r}.amazonaws.com",
          "rds": "rds.{r}.amazonaws.com", "cloudtrail": "cloudtrail.{r}.amazonaws.com",
          "logs": "logs.{r}.amazonaws.com", "lambda": "lambda.{r}.amazonaws.com",
          "monitoring": "monitoring.{r}.amazonaws.com"}


def iam_user(org: Organisation, account: AwsAccount) -> dict[str, Any]:
    return {"type": "IAMUser", "principalId": org.ci_principal, "arn": f"arn:aws:iam::{account.id}:user/ci-deploy",
            "accountId": account.id, "accessKeyId": org.ci_key, "userName": "ci-deploy"}


def sso_identity(rng: random.Random, account: AwsAccount, user: User, role: str, since: int) -> dict[str, Any]:
    role_name = SSO_ROLES[role]
    role_pid = "AROA" + alnum(random.Random(f"{account.id}/{role}"), 17)
    return {
        "type": "AssumedRole",
        "principalId": f"{role_pid}:{user.upn}",
        "arn": f"arn:aws:sts::{account.id}:assumed-role/{role_name}/{user.upn}",
        "accountId": account.id,
        "accessKeyId": "ASIA" + alnum(rng, 16),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_pid,
                              "arn": f"arn:aws:iam::{account.id}:role/aws-reserved/sso.amazonaws.com/{role_name}",
                              "accountId": account.id, "userName": role_name},
            "attributes": {"creationDate": iso_seconds(since), "mfaAuthenticated": "false"},
        },
    }


def role_identity(rng: random.Random, account: AwsAccount, role: str, session: str) -> dict[str, Any]:
    role_pid = "AROA" + alnum(random.Random(f"{account.id}/{role}"), 17)
    return {
        "type": "AssumedRole", "principalId": f"{role_pid}:{session}",
        "arn": f"arn:aws:sts::{account.id}:assumed-role/{role}/{session}", "accountId": account.id,
        "accessKeyId": "ASIA" + alnum(rng, 16),
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": role_pid,
                                             "arn": f"arn:aws:iam::{account.id}:role/{role}",
                                             "accountId": account.id, "userName": role},
                           "attributes": {"creationDate": iso_seconds(0), "mfaAuthenticated": "false"}},
    }


def record(rng: random.Random, us: int, account: AwsAccount, region: str, identity: dict[str, Any], service: str,
           name: str, ip: str, ua: str, params: dict[str, Any] | None = None, response: dict[str, Any] | None = None,
           *, error: tuple[str, str] | None = None, data_event: bool = False,
           resources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One CloudTrail record with the fields CloudTrail writes for an API call or data event."""
    rec: dict[str, Any] = {
        "eventVersion": "1.10" if not data_event else "1.09",
        "userIdentity": identity,
        "eventTime": iso_seconds(us),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ua,
    }
    if error is not None:
        rec["errorCode"], rec["errorMessage"] = error
    rec["requestParameters"] = params
    rec["responseElements"] = response
    rec["requestID"] = alnum(rng, 16) if service == "s3" else guid(rng)
    rec["eventID"] = guid(rng)
    rec["readOnly"] = name.startswith(READ_PREFIXES)
    if resources is not None:
        rec["resources"] = resources
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = not data_event
    rec["recipientAccountId"] = account.id
    rec["eventCategory"] = "Data" if data_event else "Management"
    host = _HOSTS.get(service, f"{service}.{{r}}.amazonaws.com").format(r=region)
    if service == "s3" and params and "bucketName" in params:
        host = f"{params['bucketName']}.s3.{region}.amazonaws.com"
    rec["tlsDetails"] = {**TLS, "clientProvidedHostHeader": host}
    return rec


def s3_object(rng: random.Random, us: int, account: AwsAccount, region: str, identity: dict[str, Any], name: str,
              bucket: str, key: str, ip: str, ua: str) -> dict[str, Any]:
    params = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key}
    rec = record(rng, us, account, region, identity, "s3", name, ip, ua, params, None, data_event=True,
                 resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                            {"accountId": account.id, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])
    rec["additionalEventData"] = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                  "bytesTransferredIn": 0 if name == "GetObject" else rng.randrange(2_000, 900_000),
                                  "AuthenticationMethod": "AuthHeader", "x-amz-id-2": alnum(rng, 40),
                                  "bytesTransferredOut": rng.randrange(20_000, 4_000_000) if name == "GetObject" else 0}
    return rec


def console_login(rng: random.Random, us: int, account: AwsAccount, user: User, ip: str, ua: str) -> dict[str, Any]:
    identity = sso_identity(rng, account, user, "admin" if user.is_admin else "dev", us)
    rec = record(rng, us, account, "us-east-1", identity, "signin", "ConsoleLogin", ip, ua, None,
                 {"ConsoleLogin": "Success"})
    rec["additionalEventData"] = {"MobileVersion": "No", "MFAUsed": "No"}
    rec["eventType"] = "AwsConsoleSignIn"
    rec["readOnly"] = False
    rec.pop("tlsDetails")
    return rec


TERRAFORM_CALLS = (("sts", "GetCallerIdentity"), ("ec2", "DescribeInstances"), ("ec2", "DescribeSecurityGroups"),
                   ("ec2", "DescribeVpcs"), ("ec2", "DescribeSubnets"), ("iam", "GetRole"), ("iam", "GetPolicy"),
                   ("rds", "DescribeDBInstances"), ("lambda", "GetFunction"), ("s3", "GetBucketPolicy"),
                   ("s3", "GetBucketVersioning"), ("logs", "DescribeLogGroups"), ("kms", "DescribeKey"))
CONSOLE_CALLS = (("ec2", "DescribeInstances"), ("s3", "ListBuckets"), ("s3", "GetBucketAcl"),
                 ("monitoring", "DescribeAlarms"), ("cloudtrail", "LookupEvents"), ("iam", "ListRoles"),
                 ("ec2", "DescribeInstanceStatus"), ("logs", "FilterLogEvents"), ("rds", "DescribeDBInstances"))
DEV_CALLS = (("s3", "ListObjectsV2"), ("logs", "FilterLogEvents"), ("lambda", "ListFunctions"),
             ("ec2", "DescribeInstances"), ("sts", "GetCallerIdentity"))


def _params(service: str, name: str, region: str) -> dict[str, Any] | None:
    if service == "s3" and name.startswith("GetBucket"):
        return {"bucketName": BUCKETS["uploads"], "Host": f"{BUCKETS['uploads']}.s3.{region}.amazonaws.com",
                name[9:].lower(): ""}
    if service == "s3" and name == "ListObjectsV2":
        return {"bucketName": BUCKETS["artifacts"], "Host": f"{BUCKETS['artifacts']}.s3.{region}.amazonaws.com",
                "list-type": "2", "prefix": "web/"}
    if name == "DescribeInstances":
        return {"instancesSet": {}, "filterSet": {}}
    if name == "GetRole":
        return {"roleName": "app-server-role"}
    return None


def aws_day(rng: random.Random, org: Organisation, day: date, segments: dict[str, tuple[Segment, ...]],
            emit: Emit) -> None:
    prod, dev = org.aws
    base = day_start(day)
    workday = day.weekday() < 5
    # CI: Terraform plan/apply bursts from GitHub-hosted runners
    for _ in range(rng.randrange(3, 9) if workday else rng.randrange(0, 2)):
        us = base + rng.randrange(13 * HOUR, 23 * HOUR)
        account = prod if rng.random() < 0.6 else dev
        ip = ipplan.CI_RUNNERS.pick(rng)
        ident = iam_user(org, account)
        for service, name in TERRAFORM_CALLS:
            us += rng.randrange(50_000, 900_000)
            region = "us-east-1"
            emit(account.id, region, us, record(rng, us, account, region, ident, service, name, ip, TERRAFORM_UA,
                                                _params(service, name, region)))
        for name in ("GetObject", "PutObject"):
            us += rng.randrange(1, 4) * SECOND
            emit(account.id, "us-east-1", us, s3_object(rng, us, account, "us-east-1", ident, name, BUCKETS["state"],
                                                        f"env/{account.alias}/terraform.tfstate", ip, TERRAFORM_UA))
    # people: console and CLI through IAM Identity Center
    for user in org.users:
        if not (user.is_admin or user.is_dev):
            continue
        for seg in segments.get(user.sam, ()):
            if seg.where == "flight" or rng.random() > (0.7 if user.is_admin else 0.35):
                continue
            us = rng.randrange(seg.start, max(seg.start + 1, seg.end - HOUR))
            account = prod if user.is_admin or rng.random() < 0.3 else dev
            region = rng.choice(account.regions)
            if user.is_admin:
                ua = CONSOLE_UA
                emit(account.id, "us-east-1", us, console_login(rng, us, account, user, seg.ip,
                                                                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
                                                                "AppleWebKit/537.36 (KHTML, like Gecko) "
                                                                "Chrome/130.0.0.0 Safari/537.36"))
                calls = CONSOLE_CALLS
            else:
                ua = ""
                calls = DEV_CALLS
            ident = sso_identity(rng, account, user, "admin" if user.is_admin else "dev", us)
            for _ in range(rng.randrange(4, 16)):
                us += rng.randrange(2, 90) * SECOND
                service, name = rng.choice(calls)
                r = "us-east-1" if service in ("iam", "sts") else region
                emit(account.id, r, us, record(rng, us, account, r, ident, service, name, seg.ip,
                                               ua or CLI_UA.format(f"{service}.{name.lower()}"),
                                               _params(service, name, r)))
    # the application's EC2 role and the reporting role, around the clock
    app = role_identity(rng, prod, "app-server-role", "i-0a1b2c3d4e5f60718")
    for _ in range(rng.randrange(120, 220) if workday else rng.randrange(40, 80)):
        us = base + rng.randrange(0, 24 * HOUR)
        name = rng.choice(("GetObject", "GetObject", "PutObject"))
        emit(prod.id, "us-east-1", us, s3_object(rng, us, prod, "us-east-1", app, name, BUCKETS["uploads"],
                                                 f"uploads/{rng.randrange(2024, 2027)}/{guid(rng)}.pdf",
                                                 f"10.0.{rng.randrange(10, 14)}.{rng.randrange(10, 250)}", BOTO_UA))
    report = role_identity(rng, prod, "finance-report-lambda", "finance-report")
    for _ in range(rng.randrange(2, 6) if workday else 0):
        us = base + rng.randrange(6 * HOUR, 8 * HOUR)
        emit(prod.id, "us-east-1", us, s3_object(rng, us, prod, "us-east-1", report, "GetObject", BUCKETS["finance"],
                                                 f"monthly/{day:%Y-%m}/ledger.csv", "lambda.amazonaws.com",
                                                 "lambda.amazonaws.com"))
    for account in org.aws:
        for region in account.regions:
            for _ in range(rng.randrange(20, 60)):
                us = base + rng.randrange(0, 24 * HOUR)
                ident = {"type": "AWSService", "invokedBy": "config.amazonaws.com"}
                name = rng.choice(("DescribeInstances", "DescribeSecurityGroups", "DescribeVolumes"))
                emit(account.id, region, us, record(rng, us, account, region, ident, "ec2", name,
                                                    "config.amazonaws.com", "config.amazonaws.com",
                                                    _params("ec2", name, region)))
            us = base + rng.randrange(0, 24 * HOUR)
            ident = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}
            emit(account.id, region, us + MINUTE, record(rng, us, account, region, ident, "kms", "GenerateDataKey",
                                                         "cloudtrail.amazonaws.com", "cloudtrail.amazonaws.com",
                                                         {"keySpec": "AES_256"}))
