{{- define "qos-booking-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<chart>, or the release name alone when it already contains the chart name. */}}
{{- define "qos-booking-gateway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "qos-booking-gateway.labels" -}}
{{ include "qos-booking-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: api-gateway
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "qos-booking-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "qos-booking-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "qos-booking-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "qos-booking-gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: repository:tag, or repository@digest when a digest is given. */}}
{{- define "qos-booking-gateway.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Where the TLS Secret is mounted. */}}
{{- define "qos-booking-gateway.tlsDir" -}}/etc/qos-booking-gateway/tls{{- end -}}

{{/*
The gateway's configuration file: `config` from the values, plus what the chart owns (the
TLS file paths when tls.enabled). Rendered as YAML.
*/}}
{{- define "qos-booking-gateway.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- if .Values.tls.enabled -}}
{{- $server := get $config "server" | default dict -}}
{{- $dir := include "qos-booking-gateway.tlsDir" . -}}
{{- $tls := dict "cert_file" (printf "%s/tls.crt" $dir) "key_file" (printf "%s/tls.key" $dir) -}}
{{- if .Values.tls.clientAuth -}}
{{- $_ := set $tls "client_ca_file" (printf "%s/ca.crt" $dir) -}}
{{- end -}}
{{- $_ := set $server "tls" $tls -}}
{{- $_ := set $config "server" $server -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* Checks across values that the schema cannot express. */}}
{{- define "qos-booking-gateway.validate" -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls.enabled needs tls.existingSecret (a kubernetes.io/tls Secret with tls.crt and tls.key, and ca.crt for tls.clientAuth)" -}}
{{- end -}}
{{- if and .Values.tls.clientAuth (not .Values.tls.enabled) -}}
{{- fail "tls.clientAuth needs tls.enabled" -}}
{{- end -}}
{{- $server := (.Values.config | default dict).server | default dict -}}
{{- $drainMs := add (int ($server.shutdown_delay_ms | default 0)) (int ($server.shutdown_grace_ms | default 20000)) -}}
{{- if le (mul (int .Values.terminationGracePeriodSeconds) 1000) $drainMs -}}
{{- fail (printf "terminationGracePeriodSeconds (%v s) must exceed config.server.shutdown_delay_ms + shutdown_grace_ms (%v ms)" .Values.terminationGracePeriodSeconds $drainMs) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" -}}
{{- end -}}
{{- end -}}
