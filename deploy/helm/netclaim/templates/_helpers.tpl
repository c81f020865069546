{{/* The base name of every object: the release name. */}}
{{- define "netclaim.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The driver name, also the domain of the published attributes. Fixed: claims and classes name it. */}}
{{- define "netclaim.driverName" -}}
netclaim.dev
{{- end -}}

{{- define "netclaim.selectorLabels" -}}
app.kubernetes.io/name: netclaim
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* helm.sh/chart and managed-by are left out of deploy/install.yaml by its generator. */}}
{{- define "netclaim.labels" -}}
{{ include "netclaim.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "netclaim.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "netclaim.serviceAccountUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "netclaim.fullname" . }}
{{- end -}}

{{/* The admission webhook's objects (Deployment, Service, ServiceAccount, Secret, Certificate): <release>-webhook. */}}
{{- define "netclaim.webhookName" -}}
{{- printf "%s-webhook" (include "netclaim.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "netclaim.webhookSelectorLabels" -}}
app.kubernetes.io/name: netclaim-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "netclaim.webhookLabels" -}}
{{ include "netclaim.webhookSelectorLabels" . }}
app.kubernetes.io/component: admission-webhook
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Secret holding the metrics endpoint's certificate (metrics.secure). */}}
{{- define "netclaim.metricsTlsSecret" -}}
{{- if .Values.metrics.secure.tlsSecretName -}}
{{ .Values.metrics.secure.tlsSecretName }}
{{- else if .Values.metrics.secure.certManager.enabled -}}
{{ include "netclaim.fullname" . }}-metrics-tls
{{- else -}}
{{- fail "metrics.secure.enabled needs a certificate: set metrics.secure.tlsSecretName (a kubernetes.io/tls Secret) or metrics.secure.certManager.enabled" -}}
{{- end -}}
{{- end -}}

{{/* The metrics Service's name; also the name in the metrics certificate (serverName for Prometheus). */}}
{{- define "netclaim.metricsService" -}}
{{- printf "%s-metrics" (include "netclaim.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
