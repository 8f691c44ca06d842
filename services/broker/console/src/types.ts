// Shapes of the admin API's answers (see promethean.client.admin for the Python side).

export type Role = "admin" | "read";

export interface SignedIn {
  role: Role;
  subject: string | null;
  broker: string;
}

export interface Service {
  key: string;
  name?: string;
  host?: string;
  pid?: number;
  ts: number;
  alive: boolean;
  connected?: boolean;
  queue?: number;
  inflight?: number;
}

export interface Overview {
  ts: number;
  services: Service[];
  publish_rate: number;
  delivery_rate: number;
  total_lag: number;
  dlq_depth: number;
  topics: number;
  groups: number;
  events: number;
  inflight: number;
}

export interface PartitionOffsets {
  partition: number;
  earliest: number;
  latest: number;
}

export interface TopicRow {
  name: string;
  partitions: number;
  max_attempts: number;
  cleanup: string;
  retention_ms: number | null;
  retention_events: number | null;
  tombstone_retention_ms: number | null;
  snapshot_every: number | null;
  created_ms: number;
  validate: boolean;
  offsets: PartitionOffsets[];
  events: number;
  groups: string[];
  schema: TopicSchema;
}

export interface TopicSchema {
  subject: string;
  version: number | null;
  id: number | null;
}

export interface GroupRow {
  group: string;
  topic: string;
  lag: number;
  inflight: number;
  subscribers: number;
}

export interface PartitionLag {
  partition: number;
  committed: number;
  latest: number;
  lag: number;
  inflight: number;
}

export interface Member {
  member_id: string;
  instance_id: string | null;
  topics: string[];
  expires_at_ms: number;
  generation: number;
}

export interface Group {
  group: string;
  generation: number;
  members: Member[];
  assignment: Record<string, Record<string, number[]>>;
  log: unknown[];
  topics: { topic: string; lag: number; partitions: PartitionLag[] }[];
  subscribers: number;
}

export interface EventRecord {
  topic: string;
  partition: number;
  offset: number;
  id: string;
  ts: number;
  key: string | null;
  headers: Record<string, string> | null;
  payload: unknown;
}

export interface Message extends EventRecord {
  attempts: Record<string, number>;
}

export interface DlqInfo {
  topic: string;
  dlq: string;
  depth: number;
  partitions: number;
}

export interface DlqRecord extends EventRecord {
  reason: string | null;
  group: string | null;
  attempts: number;
  original: { topic: string | null; partition: number; offset: number };
  replayed: boolean;
}

export interface DlqPage {
  topic: string;
  dlq: string;
  depth: number;
  records: DlqRecord[];
  next: Record<string, number>;
}

export interface ReplayResult {
  scanned: number;
  replayed: number;
  skipped: number;
  next: Record<string, number>;
  done: boolean;
}
