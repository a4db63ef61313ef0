// conversation-store in Azure: Cosmos DB for NoSQL (keys disabled), one user-assigned managed
// identity with the Cosmos DB Built-in Data Contributor role, and the two apps that use it:
// the Streamlit chat app (App Service, Linux, Python) and the HTTP Function app (Python v2
// model), on one Linux App Service plan. No key or connection secret is issued or stored.
//
// Deploy into an existing resource group (see docs/azure.md):
//   az deployment group create -g <group> -f infra/main.bicep -p namePrefix=<prefix>
//
// tests/infra checks this file against the library (container name, partition key, indexed
// paths) and `make infra-check` runs checkov on it; skipped checks say why where they apply.

targetScope = 'resourceGroup'

// -- parameters ---------------------------------------------------------------------------------

@description('Azure region of every resource (default: the resource group\'s).')
param location string = resourceGroup().location

@description('Short prefix of every resource name (lowercase letters, digits, hyphens); a hash of the resource group id is appended.')
@minLength(3)
@maxLength(12)
param namePrefix string = 'convstore'

@description('Cosmos DB database name (the library\'s default; app setting COSMOSDB_DATABASE).')
param databaseName string = 'GenAI'

@description('Cosmos DB container name (app setting COSMOSDB_AIConversations_CONTAINER).')
param containerName string = 'AI_Conversations'

@description('Serverless Cosmos DB (pay per request). false: provisioned autoscale throughput.')
param cosmosServerless bool = true

@description('Autoscale maximum RU/s of the container when cosmosServerless is false.')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 1000

@description('Public network access to Cosmos DB. Disabled: only through the private endpoint.')
@allowed([
  'Disabled'
  'Enabled'
])
param cosmosPublicNetworkAccess string = 'Disabled'

@description('IPv4 addresses or CIDR ranges allowed when cosmosPublicNetworkAccess is Enabled.')
param cosmosAllowedIpRanges array = []

@description('Extra principal (object) ids given data-plane access to the database, e.g. developers.')
param dataContributorPrincipalIds array = []

@description('App Service plan SKU shared by the web app and the Function app (Basic or higher).')
@allowed([
  'B1'
  'B2'
  'B3'
  'S1'
  'S2'
  'P0v3'
  'P1v3'
  'P2v3'
])
param appServicePlanSku string = 'B1'

@description('Python version of both apps.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Optional Azure OpenAI endpoint for the chat app (it uses the same identity).')
param azureOpenAiEndpoint string = ''

@description('Optional Azure OpenAI deployment name for the chat app.')
param azureOpenAiDeployment string = ''

@description('Server key anonymous visitors\' ids are derived from (CONVERSATION_STORE_IDENTITY_KEY, 32+ characters). Pass the same value on every deployment; empty gives each app process its own key, so anonymous histories are lost on restart.')
@secure()
param appIdentityKey string = ''

@description('Address space of the virtual network the apps and the private endpoint use.')
param vnetAddressPrefix string = '10.42.0.0/16'

@description('Subnet the apps integrate with (delegated to App Service).')
param appsSubnetPrefix string = '10.42.1.0/24'

@description('Subnet of the private endpoints.')
param privateEndpointsSubnetPrefix string = '10.42.2.0/24'

@description('Days Log Analytics keeps the apps\' logs.')
@minValue(30)
param logRetentionDays int = 30

@description('Also deploy Azure Database for PostgreSQL (infra/postgres.bicep, Entra auth only) and point both apps at it with CONVERSATION_STORE_URL instead of Cosmos DB.')
param deployPostgres bool = false

@description('Tags on every resource.')
param tags object = {
  project: 'conversation-store'
}

// -- names and constants ------------------------------------------------------------------------

var suffix = uniqueString(resourceGroup().id)
var cosmosAccountName = toLower('${namePrefix}-cosmos-${suffix}')
var storageAccountName = take(toLower('${replace(namePrefix, '-', '')}fn${suffix}'), 24)
var webAppName = toLower('${namePrefix}-web-${suffix}')
var functionAppName = toLower('${namePrefix}-func-${suffix}')
var appsSubnetName = 'apps'
var privateEndpointsSubnetName = 'private-endpoints'

// Cosmos DB Built-in Data Contributor (data plane: read, write, query, delete items).
var cosmosDataContributorRoleId = '00000000-0000-0000-0000-000000000002'
// Azure RBAC roles the Function host needs on its own storage, and telemetry without keys.
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributorRoleId = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

var streamlitCommand = 'python -m streamlit run streamlit_app/app.py --server.port 8000 --server.address 0.0.0.0 --server.headless true --browser.gatherUsageStats false'

// -- identity -----------------------------------------------------------------------------------

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-id-${suffix}'
  location: location
  tags: tags
}

// -- network: the apps reach Cosmos DB through a private endpoint, storage via a service endpoint

resource nsg 'Microsoft.Network/networkSecurityGroups@2023-11-01' = {
  name: '${namePrefix}-nsg-${suffix}'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: '${namePrefix}-vnet-${suffix}'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    subnets: [
      {
        name: appsSubnetName
        properties: {
          addressPrefix: appsSubnetPrefix
          networkSecurityGroup: {
            id: nsg.id
          }
          serviceEndpoints: [
            {
              service: 'Microsoft.Storage'
            }
          ]
          delegations: [
            {
              name: 'app-service'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
      {
        name: privateEndpointsSubnetName
        properties: {
          addressPrefix: privateEndpointsSubnetPrefix
          networkSecurityGroup: {
            id: nsg.id
          }
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

var appsSubnetId = '${vnet.id}/subnets/${appsSubnetName}'
var privateEndpointsSubnetId = '${vnet.id}/subnets/${privateEndpointsSubnetName}'

// -- Cosmos DB ----------------------------------------------------------------------------------

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: cosmosAccountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: cosmosServerless ? [
      {
        name: 'EnableServerless'
      }
    ] : []
    // Entra ID (managed identity) only: no account keys, no resource tokens.
    disableLocalAuth: true
    // Databases and containers change through ARM (this template) only, never the data plane.
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: cosmosPublicNetworkAccess
    ipRules: [for ipRange in cosmosAllowedIpRanges: {
      ipAddressOrRange: ipRange
    }]
    networkAclBypass: 'None'
    enableAutomaticFailover: false
    enableMultipleWriteLocations: false
    enableFreeTier: false
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: cosmos
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

// One head item per conversation plus sealed segments, all in the customer's partition. Only
// what the library's queries filter or sort on is indexed (stores/documents.py: LIST_QUERY,
// SEGMENTS_QUERY, SEGMENT_IDS_QUERY); message bodies are never indexed, which keeps every
// append's RU charge low. tests/infra/test_bicep_matches_library.py keeps the two in step.
resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: {
        paths: [
          '/customer_id'
        ]
        kind: 'Hash'
        version: 2
      }
      // TTL on, nothing expires by default; an item with its own `ttl` expires after it.
      defaultTtl: -1
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/customer_id/?'
          }
          {
            path: '/type/?'
          }
          {
            path: '/conversation_id/?'
          }
          {
            path: '/updated_at/?'
          }
          {
            path: '/archived/?'
          }
          {
            // Listing filters (pins, session, persona, org) and the lookup by external id.
            path: '/pinned/?'
          }
          {
            path: '/session_id/?'
          }
          {
            path: '/persona/?'
          }
          {
            path: '/org_id/?'
          }
          {
            path: '/external_id/?'
          }
          {
            // With _ts (always indexed), decides whether a head has expired (the library
            // filters on it too: a server that does not enforce TTL still returns such items).
            path: '/ttl/?'
          }
        ]
        excludedPaths: [
          {
            path: '/messages/*'
          }
          {
            path: '/*'
          }
        ]
      }
    }
    options: cosmosServerless ? {} : {
      autoscaleSettings: {
        maxThroughput: cosmosAutoscaleMaxThroughput
      }
    }
  }
}

// Data-plane RBAC (not Azure RBAC): scoped to the database, for the apps' identity.
resource appDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: cosmos
  name: guid(cosmos.id, identity.id, cosmosDataContributorRoleId)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
    principalId: identity.properties.principalId
    scope: '${cosmos.id}/dbs/${databaseName}'
  }
  dependsOn: [
    database
  ]
}

resource extraDataContributors 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = [for principalId in dataContributorPrincipalIds: {
  parent: cosmos
  name: guid(cosmos.id, principalId, cosmosDataContributorRoleId)
  properties: {
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}'
    principalId: principalId
    scope: '${cosmos.id}/dbs/${databaseName}'
  }
  dependsOn: [
    database
  ]
}]

resource cosmosDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: 'privatelink.documents.azure.com'
  location: 'global'
  tags: tags
}

resource cosmosDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: cosmosDnsZone
  name: '${vnet.name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource cosmosPrivateEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = {
  name: '${namePrefix}-cosmos-pe-${suffix}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: privateEndpointsSubnetId
    }
    privateLinkServiceConnections: [
      {
        name: 'cosmos-sql'
        properties: {
          privateLinkServiceId: cosmos.id
          groupIds: [
            'Sql'
          ]
        }
      }
    ]
  }
}

resource cosmosDnsZoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = {
  parent: cosmosPrivateEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'documents'
        properties: {
          privateDnsZoneId: cosmosDnsZone.id
        }
      }
    ]
  }
}

// -- monitoring ---------------------------------------------------------------------------------

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs-${suffix}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-insights-${suffix}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    // Telemetry is accepted only with an Entra ID token (the identity below), not the ikey alone.
    DisableLocalAuth: true
  }
}

resource insightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, monitoringMetricsPublisherRoleId)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// -- the Function host's own storage (keys, leases), reached with the identity only -------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_43:The name is computed (take(toLower(prefix + 'fn' + uniqueString), 24)), which checkov cannot evaluate; it is 3-24 lowercase letters and digits.
  //checkov:skip=CKV_AZURE_206:Holds only the Functions host's keys and leases, which it recreates; zone or geo replication buys nothing here.
  //checkov:skip=CKV_AZURE_59:Public endpoint stays on for the App Service service endpoint; networkAcls deny everything but the apps subnet.
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    isLocalUserEnabled: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
      virtualNetworkRules: [
        {
          id: appsSubnetId
          action: 'Allow'
        }
      ]
    }
  }
}

resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageQueueDataContributorRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributorRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// -- hosting ------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  //checkov:skip=CKV_AZURE_225:Zone redundancy needs a Premium v3 plan with three instances; not the default.
  name: '${namePrefix}-plan-${suffix}'
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: appServicePlanSku
  }
  properties: {
    reserved: true
  }
}

// -- PostgreSQL (optional) ----------------------------------------------------------------------

module postgres 'postgres.bicep' = if (deployPostgres) {
  name: 'postgres'
  params: {
    location: location
    serverName: toLower('${namePrefix}-pg-${suffix}')
    identityName: identity.name
    identityPrincipalId: identity.properties.principalId
    privateEndpointSubnetId: privateEndpointsSubnetId
    vnetId: vnet.id
    tags: tags
  }
}

// What both apps read (Settings.from_env): where the data is, and which identity to use.
// DefaultAzureCredential picks the user-assigned identity named by AZURE_CLIENT_ID. A Cosmos
// endpoint wins over CONVERSATION_STORE_URL, so with PostgreSQL it is empty (read as unset).
var cosmosAppSettings = [
  {
    name: 'COSMOSDB_ENDPOINT'
    value: deployPostgres ? '' : cosmos.properties.documentEndpoint
  }
  {
    name: 'CONVERSATION_STORE_URL'
    value: deployPostgres ? postgres!.outputs.storeUrl : ''
  }
  {
    name: 'COSMOSDB_DATABASE'
    value: databaseName
  }
  {
    name: 'COSMOSDB_AIConversations_CONTAINER'
    value: containerName
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: identity.properties.clientId
  }
  {
    // Oryx installs requirements.txt during zip deployment.
    name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
    value: 'true'
  }
]

var openAiAppSettings = empty(azureOpenAiEndpoint) ? [] : [
  {
    name: 'AZURE_OPENAI_ENDPOINT'
    value: azureOpenAiEndpoint
  }
  {
    name: 'AZURE_OPENAI_DEPLOYMENT'
    value: azureOpenAiDeployment
  }
]

var identityKeyAppSettings = empty(appIdentityKey) ? [] : [
  {
    name: 'CONVERSATION_STORE_IDENTITY_KEY'
    value: appIdentityKey
  }
]

resource webApp 'Microsoft.Web/sites@2023-12-01' = {
  //checkov:skip=CKV_AZURE_17:A browser-facing chat app; users do not hold client certificates.
  //checkov:skip=CKV_AZURE_222:A public web app for browsers; its data store (Cosmos DB) is private.
  //checkov:skip=CKV_AZURE_212:One instance by default (B1), and Streamlit sessions are sticky; scale the plan out for failover.
  name: webAppName
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Streamlit keeps each session's state in one process: keep a browser on one instance.
    clientAffinityEnabled: true
    virtualNetworkSubnetId: appsSubnetId
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'PYTHON|${pythonVersion}'
      appCommandLine: streamlitCommand
      alwaysOn: true
      webSocketsEnabled: true
      http20Enabled: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      remoteDebuggingEnabled: false
      vnetRouteAllEnabled: true
      healthCheckPath: '/_stcore/health'
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
      appSettings: concat(cosmosAppSettings, openAiAppSettings, identityKeyAppSettings)
    }
  }
  dependsOn: [
    appDataContributor
  ]
}

resource webAppScmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: webApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource webAppFtpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: webApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource webAppDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: webApp
  properties: {
    workspaceId: logs.id
    logs: [
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
    ]
  }
}

resource functionApp 'Microsoft.Web/sites@2023-12-01' = {
  //checkov:skip=CKV_AZURE_17:Service-to-service API guarded by function keys; client certificates are not used.
  //checkov:skip=CKV_AZURE_222:Its callers are services on the internet holding function keys; add access restrictions or a private endpoint if yours are not.
  //checkov:skip=CKV_AZURE_212:One instance by default (B1); scale the plan out for failover: az appservice plan update --number-of-workers 2.
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    virtualNetworkSubnetId: appsSubnetId
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'PYTHON|${pythonVersion}'
      alwaysOn: true
      http20Enabled: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      remoteDebuggingEnabled: false
      vnetRouteAllEnabled: true
      healthCheckPath: '/api/health'
      httpLoggingEnabled: true
      detailedErrorLoggingEnabled: true
      requestTracingEnabled: true
      appSettings: concat(cosmosAppSettings, [
        {
          name: 'FUNCTIONS_EXTENSION_VERSION'
          value: '~4'
        }
        {
          name: 'FUNCTIONS_WORKER_RUNTIME'
          value: 'python'
        }
        {
          // Identity-based host storage: no connection string, no account key.
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
        }
      ])
    }
  }
  dependsOn: [
    appDataContributor
    storageBlobOwner
    storageQueueContributor
    insightsPublisher
  ]
}

resource functionAppScmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource functionAppFtpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

// -- outputs ------------------------------------------------------------------------------------

output cosmosAccountName string = cosmos.name
output cosmosEndpoint string = cosmos.properties.documentEndpoint
output databaseName string = databaseName
output containerName string = containerName
output managedIdentityName string = identity.name
output managedIdentityClientId string = identity.properties.clientId
output managedIdentityPrincipalId string = identity.properties.principalId
output webAppName string = webApp.name
output webAppUrl string = 'https://${webApp.properties.defaultHostName}'
output functionAppName string = functionApp.name
output functionAppBaseUrl string = 'https://${functionApp.properties.defaultHostName}/api'
