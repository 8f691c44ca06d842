{{/* Names: "<release>" when the release name contains the chart name (the
usual `helm install promethean deploy/helm`), else "<release>-promethean". */}}
{{- define "promethean.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "promethean.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>", e.g. promethean-worker. Call with (list $ "worker"). */}}
{{- define "promethean.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "promethean.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "promethean.secretName" -}}
{{- include "promethean.fullname" . }}
{{- end }}

{{- define "promethean.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "promethean.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: promethean
{{- end }}

{{/* Selector labels of one component. Call with (list $ "broker"). */}}
{{- define "promethean.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "promethean.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "promethean.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "promethean.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* <registry>/<repository>:<tag>@<digest>. Call with (list $ .Values.broker.image). */}}
{{- define "promethean.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- $repository := $image.repository }}
{{- if $root.Values.image.registry }}
{{- $repository = printf "%s/%s" $root.Values.image.registry $image.repository }}
{{- end }}
{{- $ref := printf "%s:%s" $repository (default $root.Chart.AppVersion $image.tag) }}
{{- if $image.digest }}
{{- $ref = printf "%s@%s" $ref $image.digest }}
{{- else if $root.Values.image.requireDigest }}
{{- fail (printf "image.requireDigest is true but %s has no digest" $image.repository) }}
{{- end }}
{{- $ref }}
{{- end }}

{{/* The drain cap of one component, in milliseconds. Call with (list $ .Values.broker). */}}
{{- define "promethean.drainMs" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- if and (kindIs "invalid" $component.drainMs) (hasKey $component "group") }}
{{- /* The worker: a handler may run up to the ack timeout, then ack. */}}
{{- max ($root.Values.common.drainMs | int64) (add ($root.Values.broker.ackTimeoutMs | int64) 5000) }}
{{- else if kindIs "invalid" $component.drainMs }}
{{- $root.Values.common.drainMs | int64 }}
{{- else }}
{{- $component.drainMs | int64 }}
{{- end }}
{{- end }}

{{/* terminationGracePeriodSeconds: the drain cap rounded up, plus a margin. */}}
{{- define "promethean.terminationGrace" -}}
{{- $root := index . 0 -}}
{{- $drainMs := include "promethean.drainMs" . | int64 }}
{{- add (div (add $drainMs 999) 1000) $root.Values.common.terminationGraceMarginSeconds }}
{{- end }}

{{- define "promethean.brokerUrl" -}}
{{- printf "ws://%s:%d/ws" (include "promethean.componentName" (list . "broker")) (.Values.broker.port | int) }}
{{- end }}

{{- define "promethean.secretRef" -}}
{{- $root := index . 0 -}}
secretKeyRef:
  name: {{ default (include "promethean.secretName" $root) $root.Values.auth.existingSecret }}
  key: {{ index . 1 }}
{{- end }}

{{/* Environment every container gets. Call with (list $ .Values.<component>). */}}
{{- define "promethean.commonEnv" -}}
{{- $root := index . 0 -}}
{{- $c := $root.Values.common -}}
- name: PROMETHEAN_LOG_LEVEL
  value: {{ $c.logLevel | quote }}
- name: PROMETHEAN_HOST
  value: "0.0.0.0"
- name: PROMETHEAN_DRAIN_MS
  value: {{ include "promethean.drainMs" . | quote }}
- name: PROMETHEAN_LIVENESS_MAX_STALL_MS
  value: {{ $c.livenessMaxStallMs | int64 | quote }}
- name: PROMETHEAN_DISCONNECT_KILL_MS
  value: {{ $c.disconnectKillMs | int64 | quote }}
- name: PROMETHEAN_HEARTBEAT_MS
  value: {{ $c.heartbeatMs | int64 | quote }}
- name: PROMETHEAN_GC_FREEZE_MS
  value: {{ $c.gcFreezeMs | int64 | quote }}
- name: PROMETHEAN_GC_SWEEP_MS
  value: {{ $c.gcSweepMs | int64 | quote }}
- name: PROMETHEAN_BROKER_TOKEN
  valueFrom:
    {{- include "promethean.secretRef" (list $root "PROMETHEAN_BROKER_TOKEN") | nindent 4 }}
{{- end }}

{{/* MONGO_URL and MONGO_DB, for the services that read the store. */}}
{{- define "promethean.storeEnv" -}}
- name: MONGO_URL
  valueFrom:
    secretKeyRef:
      {{- if and .Values.store.existingSecret (not .Values.mongodb.enabled) }}
      name: {{ .Values.store.existingSecret }}
      key: {{ .Values.store.existingSecretKey }}
      {{- else }}
      name: {{ include "promethean.secretName" . }}
      key: MONGO_URL
      {{- end }}
- name: MONGO_DB
  value: {{ .Values.store.database | quote }}
{{- end }}

{{- define "promethean.mongodbName" -}}
{{- include "promethean.componentName" (list . "mongodb") }}
{{- end }}

{{/* Host names of the bundled replica set's members, comma-separated. */}}
{{- define "promethean.mongodbHosts" -}}
{{- $name := include "promethean.mongodbName" . }}
{{- $m := .Values.mongodb }}
{{- $hosts := list }}
{{- range $i := until ($m.replicas | int) }}
{{- $hosts = append $hosts (printf "%s-%d.%s-headless.%s.svc.%s:%d" $name $i $name $.Release.Namespace $m.clusterDomain ($m.port | int)) }}
{{- end }}
{{- join "," $hosts }}
{{- end }}

{{- define "promethean.caMountDir" -}}
/etc/promethean/mongodb-ca
{{- end }}

{{/* Volumes every pod that reads the store gets: the scripts ConfigMap
(wait-for-store) and the CA bundle of an external replica set. */}}
{{- define "promethean.storeVolumes" -}}
- name: scripts
  configMap:
    name: {{ include "promethean.componentName" (list . "scripts") }}
{{- with .Values.store.tls.caSecret }}
- name: mongodb-ca
  secret:
    secretName: {{ . }}
{{- end }}
{{- end }}

{{- define "promethean.storeVolumeMounts" -}}
{{- if .Values.store.tls.caSecret }}
- name: mongodb-ca
  mountPath: {{ include "promethean.caMountDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* The init container of every pod that reads the store: waits, one log
line per attempt, until the replica set has a primary that accepts the
application user. Call with (list $ .Values.broker). */}}
{{- define "promethean.waitForStore" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
- name: wait-for-store
  image: {{ include "promethean.image" (list $root $component.image) }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  command: ["/opt/promethean/bin/python", "/opt/promethean-scripts/wait_for_store.py"]
  env:
    {{- include "promethean.storeEnv" $root | nindent 4 }}
  resources:
    requests: {cpu: 10m, memory: 48Mi}
    limits: {memory: 128Mi}
  securityContext:
    {{- toYaml $root.Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: scripts
      mountPath: /opt/promethean-scripts
      readOnly: true
    - name: tmp
      mountPath: /tmp
    {{- include "promethean.storeVolumeMounts" $root | nindent 4 }}
{{- end }}

{{/* The component's own `env` map, then the shared `common.env` map. */}}
{{- define "promethean.extraEnv" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- range $name, $value := $component.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- range $name, $value := $root.Values.common.env }}
{{- if not (hasKey $component.env $name) }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of a pod template: the component's labels plus plain
`component` and `release`, which a Prometheus discovering pods by annotation
(labelmap of pod labels) turns into the series labels the dashboard and the
alerts filter on. Call with (list $ "broker"). */}}
{{- define "promethean.podLabels" -}}
{{- $root := index . 0 -}}
{{ include "promethean.componentLabels" . }}
component: {{ index . 1 }}
release: {{ $root.Release.Name }}
{{- end }}

{{/* The port /metrics is served on: the gateway's metricsPort, else the component's port. */}}
{{- define "promethean.metricsPort" -}}
{{- default .port .metricsPort | int }}
{{- end }}

{{/* Pod annotations: scrape hints plus the component's own. Call with (list $ .Values.broker). */}}
{{- define "promethean.podAnnotations" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ include "promethean.metricsPort" $component | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with $component.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Probes on /healthz/live and /healthz/ready through the `http` port.
Call with (list $ .Values.broker); a component's `startupSeconds` lengthens
its startup probe. */}}
{{- define "promethean.probes" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $p := $root.Values.probes -}}
{{- $failures := $p.startup.failureThreshold | int }}
{{- with $component.startupSeconds }}
{{- $failures = max $failures (div (add . (sub $p.startup.periodSeconds 1)) $p.startup.periodSeconds) }}
{{- end }}
startupProbe:
  httpGet: {path: /healthz/live, port: http}
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ $failures }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
livenessProbe:
  httpGet: {path: /healthz/live, port: http}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
readinessProbe:
  httpGet: {path: /healthz/ready, port: http}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
{{- end }}

{{/* Pod-level settings shared by every workload. Call with (list $ .Values.broker "broker"). */}}
{{- define "promethean.podSpecCommon" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- with $root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ include "promethean.terminationGrace" (list $root $component) }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $component.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $component.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $component.affinity }}
affinity:
  {{- toYaml $component.affinity | nindent 2 }}
{{- else }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "promethean.selectorLabels" (list $root (index . 2)) | nindent 14 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  {{- include "promethean.storeVolumes" $root | nindent 2 }}
{{- end }}

{{/* Container-level settings shared by every workload. Call with (list $ .Values.broker). */}}
{{- define "promethean.containerCommon" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
image: {{ include "promethean.image" (list $root $component.image) }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
ports:
  - name: http
    containerPort: {{ $component.port }}
    protocol: TCP
  {{- with $component.metricsPort }}
  - name: metrics
    containerPort: {{ . }}
    protocol: TCP
  {{- end }}
{{ include "promethean.probes" (list $root $component) }}
resources:
  {{- toYaml $component.resources | nindent 2 }}
securityContext:
  {{- toYaml $root.Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- include "promethean.storeVolumeMounts" $root | nindent 2 }}
{{- end }}

{{- define "promethean.mongodbImage" -}}
{{- $i := .Values.mongodb.image }}
{{- if $i.digest }}
{{- printf "%s:%s@%s" $i.repository $i.tag $i.digest }}
{{- else }}
{{- printf "%s:%s" $i.repository $i.tag }}
{{- end }}
{{- end }}

{{/* The broker StatefulSet's headless Service: the pods' DNS names. */}}
{{- define "promethean.brokerHeadlessName" -}}
{{- printf "%s-headless" (include "promethean.componentName" (list . "broker")) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The address a broker pod advertises to clients:
ws://<pod>.<headless>.<namespace>.svc.<clusterDomain>:<port>, the pod name
left to the kubelet's $(PROMETHEAN_BROKER_ID) expansion. */}}
{{- define "promethean.brokerAdvertisedUrl" -}}
{{- printf "ws://$(PROMETHEAN_BROKER_ID).%s.%s.svc.%s:%d" (include "promethean.brokerHeadlessName" .) .Release.Namespace .Values.broker.clusterDomain (.Values.broker.port | int) }}
{{- end }}

{{/* The PROMETHEAN_STORE a broker container gets from broker.env or, failing
that, common.env (the same precedence as promethean.extraEnv); empty when
neither sets it and the broker uses MONGO_URL. */}}
{{- define "promethean.brokerStoreOverride" -}}
{{- $store := "" }}
{{- if hasKey .Values.common.env "PROMETHEAN_STORE" }}
{{- $store = index .Values.common.env "PROMETHEAN_STORE" | toString }}
{{- end }}
{{- if hasKey .Values.broker.env "PROMETHEAN_STORE" }}
{{- $store = index .Values.broker.env "PROMETHEAN_STORE" | toString }}
{{- end }}
{{- $store }}
{{- end }}

{{/* A SQLite file lives in one pod: brokers in several pods cannot share it,
so more than one broker replica on a SQLite store is refused. */}}
{{- define "promethean.refuseSharedSqlite" -}}
{{- $store := include "promethean.brokerStoreOverride" . }}
{{- if and (hasPrefix "sqlite" $store) (gt (.Values.broker.replicas | int) 1) }}
{{- fail (printf "broker.replicas is %d but PROMETHEAN_STORE is a SQLite file (%s): SQLite cannot be shared between broker pods; set broker.replicas to 1 or use MongoDB (mongodb.enabled, or store.mongoUrl / store.existingSecret)" (.Values.broker.replicas | int) $store) }}
{{- end }}
{{- end }}
