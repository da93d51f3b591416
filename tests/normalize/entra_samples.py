"""Entra ID records in the shapes Microsoft documents, for the normalize and detect tests.

Written after the Azure Monitor sign-in/audit log schemas (diagnostic export), the Log Analytics
``SigninLogs``/``AuditLogs`` table references and the Microsoft Graph ``signIn``,
``directoryAudit`` and ``riskDetection`` resources; identifiers are made up.
"""

from __future__ import annotations

from typing import Any

TENANT = "6a1b2c3d-4e5f-4a0b-9c8d-7e6f5a4b3c2d"
USER_ID = "d2b1c0a9-8f7e-4d6c-b5a4-3f2e1d0c9b8a"
APP_ID = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"  # Azure Portal

# Azure Monitor diagnostic export (Event Hub / storage): fields of the log under "properties"
DIAG_SIGNIN_MFA_DENIED: dict[str, Any] = {
    "time": "2026-11-03T08:15:02.1234567Z",
    "resourceId": f"/tenants/{TENANT}/providers/Microsoft.aadiam",
    "operationName": "Sign-in activity",
    "operationVersion": "1.0",
    "category": "SignInLogs",
    "tenantId": TENANT,
    "resultType": "500121",
    "resultSignature": "None",
    "resultDescription": "Authentication failed during strong authentication request.",
    "durationMs": 0,
    "callerIpAddress": "203.0.113.77",
    "correlationId": "0f1e2d3c-4b5a-4968-8776-655443322110",
    "identity": "Alex Wilber",
    "Level": 4,
    "location": "NL",
    "properties": {
        "id": "5e4d3c2b-1a09-4f8e-a7d6-c5b4a3928170",
        "createdDateTime": "2026-11-03T08:15:02.1234567+00:00",
        "userDisplayName": "Alex Wilber",
        "userPrincipalName": "alexw@contoso.com",
        "userId": USER_ID,
        "appId": APP_ID,
        "appDisplayName": "Azure Portal",
        "ipAddress": "203.0.113.77",
        "status": {"errorCode": 500121,
                   "failureReason": "Authentication failed during strong authentication request.",
                   "additionalDetails": "MFA denied; user declined the authentication"},
        "clientAppUsed": "Browser",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/130.0.0.0 Safari/537.36",
        "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": "Windows10",
                         "browser": "Chrome 130.0.0", "isCompliant": False, "isManaged": False, "trustType": ""},
        "location": {"city": "Amsterdam", "state": "Noord-Holland", "countryOrRegion": "NL",
                     "geoCoordinates": {"latitude": 52.37403, "longitude": 4.88969}},
        "mfaDetail": {"authMethod": "Mobile app notification"},
        "correlationId": "0f1e2d3c-4b5a-4968-8776-655443322110",
        "conditionalAccessStatus": "notApplied",
        "appliedConditionalAccessPolicies": [],
        "authenticationRequirement": "multiFactorAuthentication",
        "isInteractive": True,
        "riskState": "none",
        "riskLevelDuringSignIn": "none",
        "resourceDisplayName": "Windows Azure Service Management API",
        "resourceId": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        "networkLocationDetails": [],
        "authenticationDetails": [
            {"authenticationStepDateTime": "2026-11-03T08:14:51Z", "authenticationMethod": "Password",
             "authenticationMethodDetail": "Password in the cloud", "succeeded": True,
             "authenticationStepResultDetail": "Correct password",
             "authenticationStepRequirement": "Primary authentication"},
            {"authenticationStepDateTime": "2026-11-03T08:15:02Z", "authenticationMethod": "Mobile app notification",
             "succeeded": False, "authenticationStepResultDetail": "MFA denied; user declined the authentication",
             "authenticationStepRequirement": "Multifactor authentication"},
        ],
        "autonomousSystemNumber": 64500,
    },
}

# Microsoft Graph signIn (beta: userAgent, authenticationRequirement, ...), a success with MFA
GRAPH_SIGNIN_SUCCESS: dict[str, Any] = {
    "id": "66ea54eb-6301-4ee5-be62-ff5a759b8100",
    "createdDateTime": "2026-11-03T09:02:11.7654321Z",
    "userDisplayName": "Megan Bowen",
    "userPrincipalName": "meganb@contoso.com",
    "userId": "aa11bb22-cc33-4d44-8e55-ff6677889900",
    "appId": "00000002-0000-0ff1-ce00-000000000000",
    "appDisplayName": "Office 365 Exchange Online",
    "ipAddress": "198.51.100.23",
    "clientAppUsed": "Browser",
    "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
    "correlationId": "d79f5bee-5860-4832-928f-3133e22ae912",
    "conditionalAccessStatus": "success",
    "isInteractive": True,
    "riskState": "none",
    "authenticationRequirement": "multiFactorAuthentication",
    "homeTenantId": TENANT,
    "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": "MFA completed in Azure AD"},
    "deviceDetail": {"deviceId": "8c2e0a4f-1b3d-4e5f-9a7b-6c8d0e2f4a6b", "displayName": "MEGAN-MBP",
                     "operatingSystem": "MacOs", "browser": "Safari 17.6", "isCompliant": True, "isManaged": True,
                     "trustType": "Azure AD registered"},
    "location": {"city": "Seattle", "state": "Washington", "countryOrRegion": "US",
                 "geoCoordinates": {"altitude": None, "latitude": 47.60621, "longitude": -122.33207}},
    "authenticationDetails": [
        {"authenticationStepDateTime": "2026-11-03T09:02:01Z", "authenticationMethod": "Password",
         "succeeded": True, "authenticationStepResultDetail": "Correct password"},
        {"authenticationStepDateTime": "2026-11-03T09:02:10Z", "authenticationMethod": "Mobile app notification",
         "succeeded": True, "authenticationStepResultDetail": "MFA successfully completed"},
    ],
    "appliedConditionalAccessPolicies": [],
}

# Log Analytics SigninLogs row exported as JSON: dynamic columns as JSON text, as the portal exports them
LA_SIGNIN_LOCKOUT: dict[str, Any] = {
    "TenantId": TENANT,
    "TimeGenerated": "2026-11-03T10:20:30.5000000Z",
    "OperationName": "Sign-in activity",
    "Category": "SignInLogs",
    "ResultType": "50053",
    "ResultDescription": "Account is locked because user tried to sign in too many times with an incorrect user ID "
                         "or password.",
    "Identity": "Adele Vance",
    "Location": "RU",
    "AppDisplayName": "Azure Portal",
    "AppId": APP_ID,
    "AuthenticationRequirement": "singleFactorAuthentication",
    "ClientAppUsed": "Browser",
    "ConditionalAccessStatus": "notApplied",
    "CreatedDateTime": "2026-11-03T10:20:29.9876543Z",
    "DeviceDetail": '{"deviceId":"","operatingSystem":"Linux","browser":"Firefox 131.0"}',
    "IPAddress": "192.0.2.200",
    "LocationDetails": '{"city":"Moscow","state":"Moscow","countryOrRegion":"RU",'
                       '"geoCoordinates":{"latitude":55.75222,"longitude":37.61556}}',
    "Status": '{"errorCode":50053,"failureReason":"Account is locked because user tried to sign in too many times '
              'with an incorrect user ID or password."}',
    "UserAgent": "python-requests/2.32.3",
    "UserDisplayName": "Adele Vance",
    "UserId": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "UserPrincipalName": "adelev@contoso.com",
    "Type": "SigninLogs",
}

# Azure Monitor diagnostic export of an audit record: consent to an application
DIAG_AUDIT_CONSENT: dict[str, Any] = {
    "time": "2026-11-03T08:20:44.3456789Z",
    "resourceId": f"/tenants/{TENANT}/providers/Microsoft.aadiam",
    "operationName": "Consent to application",
    "operationVersion": "1.0",
    "category": "AuditLogs",
    "tenantId": TENANT,
    "resultSignature": "None",
    "durationMs": 0,
    "callerIpAddress": "203.0.113.77",
    "correlationId": "4f5e6d7c-8b9a-4012-8345-6789abcdef01",
    "Level": 4,
    "properties": {
        "id": "Directory_4f5e6d7c-8b9a-4012-8345-6789abcdef01_ABCDE_12345678",
        "category": "ApplicationManagement",
        "correlationId": "4f5e6d7c-8b9a-4012-8345-6789abcdef01",
        "result": "success",
        "resultReason": "",
        "activityDisplayName": "Consent to application",
        "activityDateTime": "2026-11-03T08:20:44.3456789+00:00",
        "loggedByService": "Core Directory",
        "operationType": "Assign",
        "initiatedBy": {"user": {"id": USER_ID, "displayName": None, "userPrincipalName": "alexw@contoso.com",
                                 "ipAddress": "203.0.113.77", "roles": []}},
        "targetResources": [
            {"id": "e9f8d7c6-b5a4-4392-8170-f6e5d4c3b2a1", "displayName": "Mail Sync Pro", "type": "ServicePrincipal",
             "modifiedProperties": [
                 {"displayName": "ConsentContext.IsAdminConsent", "oldValue": None, "newValue": "\"False\""},
                 {"displayName": "ConsentAction.Permissions", "oldValue": None,
                  "newValue": "\"[] => [[Scope: Mail.Read offline_access, ]]\""}]}],
        "additionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0"}],
    },
}

# Microsoft Graph directoryAudit: a service principal gets a new credential, initiated by an app
GRAPH_AUDIT_SP_CREDENTIALS: dict[str, Any] = {
    "id": "Directory_0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d_XYZ_87654321",
    "category": "ApplicationManagement",
    "correlationId": "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d",
    "result": "success",
    "resultReason": "",
    "activityDisplayName": "Add service principal credentials",
    "activityDateTime": "2026-11-03T08:31:05.0000001Z",
    "loggedByService": "Core Directory",
    "operationType": "Update",
    "initiatedBy": {"app": {"appId": None, "displayName": "Automation Runner",
                            "servicePrincipalId": "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
                            "servicePrincipalName": None}},
    "targetResources": [{"id": "e9f8d7c6-b5a4-4392-8170-f6e5d4c3b2a1", "displayName": "Mail Sync Pro",
                         "type": "ServicePrincipal", "modifiedProperties": [
                             {"displayName": "KeyDescription", "oldValue": "[]",
                              "newValue": "[\"[KeyIdentifier=6f7e..., KeyType=Password, KeyUsage=Verify]\"]"}]}],
    "additionalDetails": [],
}

# Microsoft Graph riskDetection
GRAPH_RISK_DETECTION: dict[str, Any] = {
    "id": "6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b",
    "requestId": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "correlationId": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
    "riskEventType": "unfamiliarFeatures",
    "riskState": "atRisk",
    "riskLevel": "medium",
    "riskDetail": "none",
    "source": "IdentityProtection",
    "detectionTimingType": "realtime",
    "activity": "signin",
    "tokenIssuerType": "AzureAD",
    "ipAddress": "203.0.113.77",
    "location": {"city": "Amsterdam", "state": "Noord-Holland", "countryOrRegion": "NL",
                 "geoCoordinates": {"latitude": 52.37403, "longitude": 4.88969}},
    "activityDateTime": "2026-11-03T08:15:02.1234567Z",
    "detectedDateTime": "2026-11-03T08:15:02.1234567Z",
    "lastUpdatedDateTime": "2026-11-03T08:17:40.0000000Z",
    "userId": USER_ID,
    "userDisplayName": "Alex Wilber",
    "userPrincipalName": "alexw@contoso.com",
    "additionalInfo": "[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0\"}]",
}

# Azure Activity log, diagnostic export: a Key Vault secret deleted
DIAG_ACTIVITY_KEYVAULT: dict[str, Any] = {
    "time": "2026-11-03T11:00:00.0000000Z",
    "resourceId": "/SUBSCRIPTIONS/11111111-2222-4333-8444-555555555555/RESOURCEGROUPS/PROD/PROVIDERS/"
                  "MICROSOFT.KEYVAULT/VAULTS/PROD-KV",
    "operationName": "MICROSOFT.KEYVAULT/VAULTS/SECRETS/DELETE",
    "category": "Administrative",
    "resultType": "Success",
    "resultSignature": "Succeeded.OK",
    "durationMs": "312",
    "callerIpAddress": "203.0.113.77",
    "correlationId": "c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f",
    "identity": {"authorization": {"scope": "/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/prod",
                                   "action": "Microsoft.KeyVault/vaults/secrets/delete"},
                 "claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alexw@contoso.com"}},
    "level": "Information",
    "location": "westeurope",
    "properties": {"statusCode": "OK", "serviceRequestId": None},
}
