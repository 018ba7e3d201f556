{{/*
The chart's name, or nameOverride.
*/}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified app name, at most 63 characters (the DNS name limit). The release name is
used alone when it already contains the chart's name.
*/}}
{{- define "sluice.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "sluice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object (Helm's and Kubernetes' recommended set).
*/}}
{{- define "sluice.labels" -}}
helm.sh/chart: {{ include "sluice.chart" . }}
{{ include "sluice.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: stable across upgrades (a Deployment's selector is immutable).
*/}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The container image; the tag defaults to the chart's appVersion.
*/}}
{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Refuses to render when Kubernetes would SIGKILL sluice before its shutdown can finish: after
SIGTERM it drains for shutdown_grace_ms (sluice's default 15000), then leaving the consumer
group can take up to 10 s more. Also refuses what sluice would refuse at start without the
chart being able to show it earlier: retry limits without a dead-letter topic, and a
relative validation.schema path that is not among config.files. Renders nothing otherwise.
*/}}
{{- define "sluice.validate" -}}
{{- $cfg := .Values.config.sluice | default (dict) -}}
{{- $graceMs := 15000 -}}
{{- if hasKey $cfg "shutdown_grace_ms" }}{{ $graceMs = $cfg.shutdown_grace_ms }}{{ end -}}
{{- $neededMs := add $graceMs 10000 -}}
{{- $podMs := mul .Values.terminationGracePeriodSeconds 1000 -}}
{{- if le $podMs $neededMs -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be more than shutdown_grace_ms/1000 + 10 = %v: sluice needs shutdown_grace_ms to drain, then up to 10 s to leave the consumer group" .Values.terminationGracePeriodSeconds (div $neededMs 1000)) -}}
{{- end -}}
{{- if not $cfg.sinks -}}
{{- fail "config.sluice.sinks must list at least one sink (name, url)" -}}
{{- end -}}
{{- /* Retry limits need a dead-letter topic (sluice refuses them otherwise); a sink's retry
       overrides delivery.retry key by key. */ -}}
{{- $deadLetter := get $cfg "dead_letter" | default (dict) -}}
{{- $delivery := get $cfg "delivery" | default (dict) -}}
{{- $defaultRetry := get $delivery "retry" | default (dict) -}}
{{- if not (get $deadLetter "topic") -}}
{{- range $i, $sink := $cfg.sinks -}}
{{- $own := get $sink "retry" | default (dict) -}}
{{- $attempts := hasKey $own "max_attempts" | ternary (get $own "max_attempts") (get $defaultRetry "max_attempts") -}}
{{- $elapsed := hasKey $own "max_elapsed_ms" | ternary (get $own "max_elapsed_ms") (get $defaultRetry "max_elapsed_ms") -}}
{{- if or $attempts $elapsed -}}
{{- fail (printf "config.sluice.sinks[%d] (%v): retry.max_attempts/max_elapsed_ms need config.sluice.dead_letter.topic: an event out of attempts has nowhere else to go" $i (get $sink "name")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* A schema file must be in the ConfigMap to be found next to sluice.yaml. */ -}}
{{- $files := .Values.config.files | default (dict) -}}
{{- range $name, $content := $files -}}
{{- if or (eq $name "sluice.yaml") (not (regexMatch "^[-._a-zA-Z0-9]+$" $name)) -}}
{{- fail (printf "config.files: %q must be a plain file name (letters, digits, '-', '_', '.') other than sluice.yaml" $name) -}}
{{- end -}}
{{- end -}}
{{- $validation := get $cfg "validation" | default (dict) -}}
{{- $schema := get $validation "schema" | default "" | toString -}}
{{- if and $schema (ne $schema "default") (ne $schema "none") (not (isAbs $schema)) (not (hasKey $files $schema)) -}}
{{- fail (printf "config.sluice.validation.schema %q is relative to /etc/sluice: add it under config.files" $schema) -}}
{{- end -}}
{{- end }}
