"""Story d: a leaked CI access key used from a new address: enumeration, then S3 exfiltration.

The ``ci-deploy`` key (normally used by Terraform from GitHub-hosted runners) shows up from a
DigitalOcean droplet in India with a Python SDK user agent: identity and account discovery,
bucket and instance enumeration across regions (with access-denied errors), then hundreds of
``GetObject`` calls on the finance bucket and an attempt to open it to the world.
"""

from __future__ import annotations

import json
import random
from datetime import date

from autosoc.simulate import ipplan
from autosoc.simulate.clock import HOUR, SECOND, day_start
from autosoc.simulate.cloudtrail import BUCKETS, iam_user, record, s3_object
from autosoc.simulate.org import Organisation
from autosoc.simulate.stories.base import Story

UA = "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.15.0-122-generic md/arch#x86_64 lang/python#3.10.12 " \
     "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.36"
DENIED = ("AccessDenied", "User: arn:aws:iam::{a}:user/ci-deploy is not authorized to perform: {op}")
ENUM = (("sts", "GetCallerIdentity", None), ("iam", "GetUser", None), ("iam", "ListUsers", None),
        ("iam", "ListRoles", None), ("iam", "GetAccountAuthorizationDetails", "iam:GetAccountAuthorizationDetails"),
        ("iam", "ListAttachedUserPolicies", None), ("s3", "ListBuckets", None), ("ec2", "DescribeInstances", None),
        ("ec2", "DescribeSnapshots", None), ("rds", "DescribeDBInstances", None),
        ("secretsmanager", "ListSecrets", "secretsmanager:ListSecrets"), ("lambda", "ListFunctions20150331", None))
EXTRA_REGIONS = ("us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1")


def build(org: Organisation, day: date, rng: random.Random) -> Story:
    account = org.aws[0]
    ip = ipplan.KEY_ABUSE.pick(rng)
    ident = iam_user(org, account)
    bucket = BUCKETS["finance"]
    arn = ident["arn"]
    story = Story("d-cloud-key", "d", "Leaked access key: enumeration and S3 exfiltration",
                  [f"cloud_principal:{arn}", f"cloud_principal:{org.ci_key}", f"ip:{ip}"],
                  ["access key used from a new IP / ASN / country (DigitalOcean, IN) and a new user agent",
                   "burst of discovery calls (ListUsers, GetAccountAuthorizationDetails, ListBuckets, Describe*) "
                   "with AccessDenied errors",
                   "hundreds of GetObject calls on one bucket by a principal that never read it",
                   "bucket policy / public access block changes"])
    us = day_start(day) + rng.randrange(1 * HOUR, 6 * HOUR)

    def call(region: str, service: str, name: str, params: dict | None = None,  # type: ignore[type-arg]
             error: tuple[str, str] | None = None, response: dict | None = None) -> None:  # type: ignore[type-arg]
        region = "us-east-1" if service in ("iam", "sts") else region
        story.add(("cloudtrail", account.id, region), step)(
            us, record(rng, us, account, region, ident, service, name, ip, UA, params, response, error=error))

    step = "key validation"
    # whoever found the key checked it with TruffleHog first
    t = us - rng.randrange(2, 9) * HOUR
    story.add(("cloudtrail", account.id, "us-east-1"), step)(
        t, record(rng, t, account, "us-east-1", ident, "sts", "GetCallerIdentity", ip, "TruffleHog", None,
                  {"userId": org.ci_principal, "account": account.id, "arn": arn}))
    step = "discovery"
    for service, name, denied in ENUM:
        us += rng.randrange(1, 6) * SECOND
        error = (DENIED[0], DENIED[1].format(a=account.id, op=denied)) if denied else None
        response = {"userId": org.ci_principal, "account": account.id, "arn": arn} if name == "GetCallerIdentity" \
            else None
        call("us-east-1", service, name, error=error, response=response)
    for region in EXTRA_REGIONS:
        us += rng.randrange(1, 4) * SECOND
        call(region, "ec2", "DescribeInstances", {"instancesSet": {}, "filterSet": {}})
        us += rng.randrange(1, 3) * SECOND
        call(region, "ec2", "DescribeSecurityGroups", {"securityGroupSet": {}, "filterSet": {}})
    for b in BUCKETS.values():
        us += rng.randrange(1, 3) * SECOND
        call("us-east-1", "s3", "GetBucketAcl", {"bucketName": b, "Host": f"{b}.s3.us-east-1.amazonaws.com", "acl": ""})
    step = "exfiltration"
    us += rng.randrange(2, 10) * 60 * SECOND
    call("us-east-1", "s3", "ListObjectsV2", {"bucketName": bucket, "Host": f"{bucket}.s3.us-east-1.amazonaws.com",
                                              "list-type": "2", "max-keys": "1000"})
    for i in range(rng.randrange(250, 450)):
        us += rng.randrange(150_000, 2_500_000)
        key = f"{rng.choice(('monthly', 'quarterly', 'payroll', 'audit'))}/{rng.randrange(2021, 2027)}-" \
              f"{rng.randrange(1, 13):02d}/{rng.choice(('ledger', 'payroll', 'forecast', 'vendors'))}_{i}.csv"
        story.add(("cloudtrail", account.id, "us-east-1"), step)(
            us, s3_object(rng, us, account, "us-east-1", ident, "GetObject", bucket, key, ip, UA))
    step = "exposure"
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "sync", "Effect": "Allow", "Principal": "*",
                                                      "Action": "s3:GetObject",
                                                      "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    us += rng.randrange(30, 120) * SECOND
    call("us-east-1", "s3", "DeleteBucketPublicAccessBlock",
         {"bucketName": bucket, "Host": f"{bucket}.s3.us-east-1.amazonaws.com", "publicAccessBlock": ""})
    us += rng.randrange(5, 20) * SECOND
    call("us-east-1", "s3", "PutBucketPolicy", {"bucketName": bucket, "Host": f"{bucket}.s3.us-east-1.amazonaws.com",
                                                "bucketPolicy": policy, "policy": ""})
    us += rng.randrange(5, 20) * SECOND
    call("us-east-1", "iam", "CreateAccessKey", {"userName": "ci-deploy"},
         error=(DENIED[0], DENIED[1].format(a=account.id, op="iam:CreateAccessKey")))
    story.details = {"access_key": org.ci_key, "principal": arn, "attacker_ip": ip, "bucket": bucket,
                     "policy": json.dumps(policy)}
    return story
