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
relative validation.schema path that is not among config.files. And what would deploy but not
work: two autoscalers on one Deployment, an unreachable metrics address, a Secret mounted over
the config. Renders nothing otherwise.
*/}}
{{- define "sluice.validate" -}}
{{- $cfg := .Values.config.sluice | default (dict) -}}
{{- $_ := include "sluice.metricsPort" . -}}
{{- if and .Values.autoscaling.enabled .Values.keda.enabled -}}
{{- fail "autoscaling.enabled and keda.enabled are both true: enable one; KEDA creates its own HPA, and two autoscalers on one Deployment fight over its replica count" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (not (dig "requests" "cpu" "" (.Values.resources | default (dict)))) -}}
{{- fail "autoscaling.enabled needs resources.requests.cpu: targetCPUUtilizationPercentage is a percentage of it" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas is more than autoscaling.maxReplicas" -}}
{{- end -}}
{{- if and .Values.keda.enabled (gt (int .Values.keda.minReplicaCount) (int .Values.keda.maxReplicaCount)) -}}
{{- fail "keda.minReplicaCount is more than keda.maxReplicaCount" -}}
{{- end -}}
{{- range $key, $_ := .Values.keda.metadata -}}
{{- if has $key (list "bootstrapServers" "consumerGroup" "topic" "lagThreshold" "activationLagThreshold" "offsetResetPolicy" "excludePersistentLag" "allowIdleConsumers") -}}
{{- fail (printf "keda.metadata.%s: set it as keda.%s (the chart writes that trigger field itself)" $key $key) -}}
{{- end -}}
{{- end -}}
{{- $volumes := dict "config" true -}}
{{- range $i, $m := .Values.secretMounts -}}
{{- if hasKey $volumes $m.name -}}
{{- fail (printf "secretMounts[%d].name %q is used twice (or is \"config\", the ConfigMap's volume)" $i $m.name) -}}
{{- end -}}
{{- $_ := set $volumes $m.name true -}}
{{- $path := clean $m.mountPath -}}
{{- $shadowed := or (eq $path "/etc/sluice") (eq $path "/etc/sluice/sluice.yaml") -}}
{{- if and (eq (dir $path) "/etc/sluice") (hasKey ($.Values.config.files | default (dict)) (base $path)) -}}
{{- $shadowed = true -}}
{{- end -}}
{{- if $shadowed -}}
{{- fail (printf "secretMounts[%d].mountPath %q would hide the ConfigMap's files in /etc/sluice: mount it in a subdirectory such as /etc/sluice/tls/NAME" $i $m.mountPath) -}}
{{- end -}}
{{- end -}}
{{- $graceMs := 15000 -}}
{{- if hasKey $cfg "shutdown_grace_ms_file" -}}
{{- fail "config.sluice.shutdown_grace_ms_file: give shutdown_grace_ms as a number; the chart checks terminationGracePeriodSeconds against it" -}}
{{- end -}}
{{- if hasKey $cfg "shutdown_grace_ms" }}{{ $graceMs = $cfg.shutdown_grace_ms }}{{ end -}}
{{- if not (or (kindIs "int" $graceMs) (kindIs "int64" $graceMs) (kindIs "float64" $graceMs)) -}}
{{- fail (printf "config.sluice.shutdown_grace_ms is %q: give it as a number; the chart checks terminationGracePeriodSeconds against it" (toString $graceMs)) -}}
{{- end -}}
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

{{/*
The metrics port, from config.sluice.metrics.listen: the container port, the probes and the
Service all use it, so that sluice listens where Kubernetes looks. Refuses a listen address
the kubelet and Prometheus cannot reach, or one the chart cannot read.
*/}}
{{- define "sluice.metricsPort" -}}
{{- $metrics := get (.Values.config.sluice | default (dict)) "metrics" | default (dict) -}}
{{- $listen := get $metrics "listen" | default "" | toString -}}
{{- if not $listen -}}
{{- fail "config.sluice.metrics.listen must be set (e.g. \"0.0.0.0:9464\"): the chart's probes ask /healthz and /readyz, and Prometheus /metrics, on that port" -}}
{{- end -}}
{{- if not (regexMatch "^[0-9.]+:[0-9]{1,5}$" $listen) -}}
{{- fail (printf "config.sluice.metrics.listen %q must be a literal IPv4 HOST:PORT such as 0.0.0.0:9464 (no ${NAME}): the chart derives the container port, probes and Service from it" $listen) -}}
{{- end -}}
{{- $host := regexReplaceAll ":[0-9]+$" $listen "" -}}
{{- if hasPrefix "127." $host -}}
{{- fail (printf "config.sluice.metrics.listen %q is a loopback address: the kubelet's probes and Prometheus connect to the pod's IP; use 0.0.0.0" $listen) -}}
{{- end -}}
{{- $port := regexReplaceAll "^.*:" $listen "" | atoi -}}
{{- if or (lt $port 1) (gt $port 65535) -}}
{{- fail (printf "config.sluice.metrics.listen %q: the port must be 1..65535" $listen) -}}
{{- end -}}
{{- $port -}}
{{- end }}

{{/*
Whether an autoscaler (HPA or KEDA) owns the Deployment's replica count.
*/}}
{{- define "sluice.autoscaled" -}}
{{- if or .Values.autoscaling.enabled .Values.keda.enabled }}true{{ end -}}
{{- end }}
