// Optional PostgreSQL store (docs/postgres.md): Azure Database for PostgreSQL flexible server
// with Microsoft Entra authentication only (password authentication off), the apps' user-assigned
// managed identity as its Entra administrator, TLS 1.2+ required, no public network access: the
// apps reach it through a private endpoint in the private-endpoints subnet. Deployed by
// infra/main.bicep when deployPostgres is true; the apps then get CONVERSATION_STORE_URL (no
// password in it, so the store logs in with an Entra token of that identity).

@description('Azure region of the server.')
param location string

@description('Server name (globally unique, lowercase letters, digits, hyphens).')
param serverName string

@description('Database the store uses.')
param databaseName string = 'conversations'

@description('Name of the user-assigned managed identity (the PostgreSQL role name).')
param identityName string

@description('Principal (object) id of that identity.')
param identityPrincipalId string

@description('Subnet of the private endpoint.')
param privateEndpointSubnetId string

@description('Virtual network the private DNS zone is linked to.')
param vnetId string

@description('Compute SKU name (Burstable B1ms is the smallest).')
param skuName string = 'Standard_B1ms'

@description('Compute tier of skuName.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string = 'Burstable'

@description('Storage size in GiB.')
param storageSizeGB int = 32

@description('Days of point-in-time restore backups.')
@minValue(7)
@maxValue(35)
param backupRetentionDays int = 7

@description('Tags on every resource.')
param tags object = {}

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: serverName
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: '16'
    storage: {
      storageSizeGB: storageSizeGB
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: 'Disabled'
    }
    // Entra ID only: no administrator password exists.
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: subscription().tenantId
    }
    network: {
      publicNetworkAccess: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
  }
}

// TLS required, 1.2 or newer.
resource requireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'on'
    source: 'user-override'
  }
}

resource minTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'ssl_min_protocol_version'
  properties: {
    value: 'TLSv1.2'
    source: 'user-override'
  }
  dependsOn: [
    requireTls
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// The apps' identity is the Entra administrator: it owns the store's tables (migrations on open).
resource identityAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: identityPrincipalId
  properties: {
    principalType: 'ServicePrincipal'
    principalName: identityName
    tenantId: subscription().tenantId
  }
  dependsOn: [
    minTls
  ]
}

resource dnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: 'privatelink.postgres.database.azure.com'
  location: 'global'
  tags: tags
}

resource dnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: dnsZone
  name: '${serverName}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}

resource privateEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = {
  name: '${serverName}-pe'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: privateEndpointSubnetId
    }
    privateLinkServiceConnections: [
      {
        name: 'postgresql'
        properties: {
          privateLinkServiceId: server.id
          groupIds: [
            'postgresqlServer'
          ]
        }
      }
    ]
  }
}

resource dnsZoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = {
  parent: privateEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'postgres'
        properties: {
          privateDnsZoneId: dnsZone.id
        }
      }
    ]
  }
}

output serverName string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
// No password: PostgresStore.from_url logs in with an Entra token (docs/postgres.md).
output storeUrl string = 'postgresql://${uriComponent(identityName)}@${server.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=require'
