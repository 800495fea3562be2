/** Small hand-built Project values for pure unit tests. */
import { defaultDeployPolicy, type Project, type Service } from '../../src/project/model.js';
import { noMonitoring } from '../../src/project/monitor-schema.js';

export function service(name: string, over: Partial<Service> = {}): Service {
  return {
    name,
    image: 'example/app:1',
    environment: {},
    ports: [],
    expose: [],
    mounts: [],
    networks: { default: { aliases: [] } },
    dependsOn: {},
    restart: 'no',
    readOnly: false,
    capAdd: [],
    capDrop: [],
    securityOpt: [],
    tmpfs: {},
    labels: {},
    limits: {},
    secrets: [],
    deploy: defaultDeployPolicy,
    ...over,
  };
}

export function project(services: Service[], over: Partial<Project> = {}): Project {
  return {
    name: 'shop',
    dir: '/srv/shop',
    composeFiles: ['/srv/shop/compose.yaml'],
    stateDir: '/srv/shop/.berth',
    services: Object.fromEntries(services.map((s) => [s.name, s])),
    networks: { default: { key: 'default', name: 'shop_default', external: false, internal: false, labels: {} } },
    volumes: { data: { key: 'data', name: 'shop_data', external: false, labels: {} } },
    secrets: { dbpass: { key: 'dbpass', file: '/srv/shop/secrets/dbpass' } },
    edge: { image: 'berth-haproxy:local', listeners: [{ hostIp: '127.0.0.1', hostPort: 8080 }] },
    monitor: noMonitoring,
    ...over,
  };
}
