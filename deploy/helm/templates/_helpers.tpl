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
{{- if kindIs "invalid" $component.drainMs }}
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
      {{- if .Values.store.existingSecret }}
      name: {{ .Values.store.existingSecret }}
      key: {{ .Values.store.existingSecretKey }}
      {{- else }}
      name: {{ include "promethean.secretName" . }}
      key: MONGO_URL
      {{- end }}
- name: MONGO_DB
  value: {{ .Values.store.database | quote }}
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

{{/* Pod annotations: scrape hints plus the component's own. Call with (list $ .Values.broker). */}}
{{- define "promethean.podAnnotations" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ $component.port | int | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with $component.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Probes on /healthz/live and /healthz/ready through the `http` port. */}}
{{- define "promethean.probes" -}}
{{- $p := .Values.probes -}}
startupProbe:
  httpGet: {path: /healthz/live, port: http}
  periodSeconds: {{ $p.startup.periodSeconds }}
  failureThreshold: {{ $p.startup.failureThreshold }}
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
{{ include "promethean.probes" $root }}
resources:
  {{- toYaml $component.resources | nindent 2 }}
securityContext:
  {{- toYaml $root.Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end }}
