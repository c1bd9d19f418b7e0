{{/* Names, labels and the pieces every Ledgergate pod shares. */}}

{{- define "ledgergate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ledgergate.fullname" -}}
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

{{- define "ledgergate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "ledgergate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ledgergate.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "ledgergate.labels" -}}
helm.sh/chart: {{ include "ledgergate.chart" .ctx }}
{{ include "ledgergate.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: ledgergate
{{- end }}

{{- define "ledgergate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "ledgergate.secretName" -}}
{{- default (include "ledgergate.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The non-secret settings, as a YAML map: the ConfigMap's data, and the migration Job's
environment (the Job runs before the ConfigMap exists). */}}
{{- define "ledgergate.config" -}}
LEDGERGATE_ENVIRONMENT: {{ .Values.config.environment | quote }}
LEDGERGATE_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
LEDGERGATE_HOST: "0.0.0.0"
LEDGERGATE_PORT: {{ .Values.config.port | quote }}
LEDGERGATE_MIGRATE_ON_START: {{ ternary "false" "true" .Values.migrations.enabled | quote }}
{{- with .Values.erp.url }}
LEDGERGATE_ERP__URL: {{ . | quote }}
{{- end }}
{{- with .Values.billing.url }}
LEDGERGATE_BILLING__URL: {{ . | quote }}
{{- end }}
{{- range $name, $value := dict
  "LEDGERGATE_BILLING__BUDGET_ENABLED" .Values.billing.budget.enabled
  "LEDGERGATE_BILLING__READ_REQUESTS_PER_SECOND" .Values.billing.budget.readRequestsPerSecond
  "LEDGERGATE_BILLING__WRITE_REQUESTS_PER_SECOND" .Values.billing.budget.writeRequestsPerSecond
  "LEDGERGATE_BILLING__BUDGET_WAIT_SECONDS" .Values.billing.budget.waitSeconds
  "LEDGERGATE_BILLING__INTERACTIVE_RESERVE" .Values.billing.budget.interactiveReserve }}
{{- if not (kindIs "invalid" $value) }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- with .Values.crm.url }}
LEDGERGATE_CRM__URL: {{ . | quote }}
{{- end }}
{{- with .Values.support.url }}
LEDGERGATE_SUPPORT__URL: {{ . | quote }}
{{- end }}
PROMETHEUS_MULTIPROC_DIR: {{ .Values.metrics.multiprocDir | quote }}
LEDGERGATE_WORKER_METRICS_PORT: {{ .Values.metrics.workerPort | quote }}
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/* Credentials and URLs, each read from the Secret. */}}
{{- define "ledgergate.secretEnv" -}}
{{- $secret := include "ledgergate.secretName" . }}
{{- range $name, $key := dict
  "LEDGERGATE_DATABASE_URL" .Values.postgresql.secretKey
  "LEDGERGATE_RATE_LIMIT_STORAGE_URL" .Values.redis.secretKey
  "LEDGERGATE_ERP__ACCESS_TOKEN" .Values.erp.accessTokenSecretKey
  "LEDGERGATE_BILLING__API_KEY" .Values.billing.apiKeySecretKey
  "LEDGERGATE_BILLING__WEBHOOK_SECRET" .Values.billing.webhookSecretSecretKey
  "LEDGERGATE_CRM__ACCESS_TOKEN" .Values.crm.accessTokenSecretKey
  "LEDGERGATE_CRM__WEBHOOK_SECRET" .Values.crm.webhookSecretSecretKey
  "LEDGERGATE_SUPPORT__API_TOKEN" .Values.support.apiTokenSecretKey
  "LEDGERGATE_AUTH__KEY_ENCRYPTION_KEY" .Values.auth.keyEncryptionKeySecretKey }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the gateway, the replay workers and the migration Job. */}}
{{- define "ledgergate.podSpec" -}}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
automountServiceAccountToken: false
{{- /* Service links would put LEDGERGATE_PORT=tcp://... and more LEDGERGATE_* variables
(for the Service "ledgergate") among the settings' own. */}}
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The writable places of a read-only root filesystem. */}}
{{- define "ledgergate.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmp.sizeLimit }}
- name: metrics
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.metrics.sizeLimit }}
{{- end }}

{{- define "ledgergate.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: metrics
  mountPath: {{ .Values.metrics.multiprocDir }}
{{- end }}

{{- define "ledgergate.container" -}}
image: {{ include "ledgergate.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  {{- include "ledgergate.volumeMounts" . | nindent 2 }}
{{- end }}
