{{/* Chart name, overridable. */}}
{{- define "jwtgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-jwtgate, or the release name when it already contains the chart name. */}}
{{- define "jwtgate.fullname" -}}
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

{{/* selectorLabelsFor (list . component) selects one component's pods. */}}
{{- define "jwtgate.selectorLabelsFor" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ include "jwtgate.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* labelsFor (list . component) are one component's objects' labels. */}}
{{- define "jwtgate.labelsFor" -}}
{{- $ctx := index . 0 -}}
helm.sh/chart: {{ printf "%s-%s" $ctx.Chart.Name $ctx.Chart.Version | replace "+" "_" }}
{{ include "jwtgate.selectorLabelsFor" . }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: jwtgate
{{- end }}

{{- define "jwtgate.selectorLabels" -}}{{ include "jwtgate.selectorLabelsFor" (list . "operator") }}{{- end }}
{{- define "jwtgate.labels" -}}{{ include "jwtgate.labelsFor" (list . "operator") }}{{- end }}

{{/* The operator pods' selector as a label selector string (k=v,k=v). */}}
{{- define "jwtgate.operatorSelector" -}}
{{- $terms := list }}
{{- range $k, $v := include "jwtgate.selectorLabels" . | fromYaml }}{{ $terms = append $terms (printf "%s=%s" $k $v) }}{{ end }}
{{- join "," $terms }}
{{- end }}

{{/* imagePullSecrets of the operator's image, as names or {name: ...}. */}}
{{- define "jwtgate.imagePullSecrets" -}}
{{- with .Values.operator.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
  {{- end }}
{{- end }}
{{- end }}

{{/* image renders repository[:tag|@digest]; the tag defaults to appVersion. */}}
{{- define "jwtgate.image" -}}
{{- $img := index . 0 }}{{- $ctx := index . 1 }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default $ctx.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "jwtgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jwtgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false: name an existing ServiceAccount" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
serviceName is <fullname>-<suffix> within the 63 characters of a Service
name (a DNS-1035 label), cutting the fullname rather than the suffix.
*/}}
{{- define "jwtgate.serviceName" -}}
{{- $ctx := index . 0 }}{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "jwtgate.fullname" $ctx | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/* Names shared between objects and the operator's flags. */}}
{{- define "jwtgate.webhookName" -}}{{ include "jwtgate.fullname" . }}-injector{{- end }}
{{- define "jwtgate.webhookServiceName" -}}{{ include "jwtgate.serviceName" (list . "webhook") }}{{- end }}
{{- define "jwtgate.metricsServiceName" -}}{{ include "jwtgate.serviceName" (list . "metrics") }}{{- end }}
{{- define "jwtgate.webhookSecretName" -}}{{ include "jwtgate.fullname" . }}-webhook-tls{{- end }}
{{- define "jwtgate.certificateName" -}}{{ include "jwtgate.fullname" . }}-webhook{{- end }}
{{- define "jwtgate.webhookCertDir" -}}/tmp/k8s-webhook-server/serving-certs{{- end }}

{{/*
Namespaces the webhook never touches: the operator's own (its pods must start
even when the webhook is down) and kube-system, plus any the user adds.
*/}}
{{- define "jwtgate.excludedNamespaces" -}}
{{- $ns := list .Release.Namespace "kube-system" }}
{{- range .Values.webhook.excludeNamespaces }}{{ $ns = append $ns . }}{{ end }}
{{- toJson (uniq $ns) }}
{{- end }}

{{/*
The operator's command line. The only place the chart and the manager's
flags meet: keep it in step with cmd/manager.
*/}}
{{- define "jwtgate.managerArgs" -}}
{{- $args := list
  (printf "--leader-elect=%t" .Values.operator.leaderElection.enabled)
  "--namespace=$(POD_NAMESPACE)"
  (printf "--health-probe-bind-address=:%d" (int .Values.operator.healthPort))
  (printf "--metrics-bind-address=%s" (ternary (printf ":%d" (int .Values.metrics.port)) "0" .Values.metrics.enabled))
  (printf "--zap-log-level=%s" .Values.operator.logLevel)
  (printf "--sidecar-image=%s" (include "jwtgate.image" (list .Values.sidecar.image .)))
  (printf "--sidecar-image-pull-policy=%s" .Values.sidecar.image.pullPolicy)
  (printf "--sidecar-resources=%s" (toJson .Values.sidecar.resources))
  (printf "--sidecar-run-as-user=%s" (ternary (toString (int64 .Values.sidecar.runAsUser)) "" (hasKey .Values.sidecar "runAsUser")))
  (printf "--webhook-port=%d" (int .Values.webhook.port))
  (printf "--webhook-cert-dir=%s" (include "jwtgate.webhookCertDir" .))
  (printf "--webhook-cert-mode=%s" .Values.webhook.certMode)
  (printf "--webhook-service-name=%s" (include "jwtgate.webhookServiceName" .))
  (printf "--webhook-secret-name=%s" (include "jwtgate.webhookSecretName" .))
  (printf "--webhook-config-name=%s" (include "jwtgate.webhookName" .))
  (printf "--default-network-policy=%t" .Values.networkPolicy.default)
}}
{{- range (concat $args .Values.operator.extraArgs) }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The sidecar images the guard admits, comma-separated: the image the operator
injects; during an upgrade, the one the running release injects (operator
replicas still on it keep creating pods; `helm template` cannot read it);
and guard.previousSidecarImages.
*/}}
{{- define "jwtgate.guardSidecarImageList" -}}
{{- $images := list (include "jwtgate.image" (list .Values.sidecar.image .)) }}
{{- $running := lookup "apps/v1" "Deployment" .Release.Namespace (include "jwtgate.fullname" .) }}
{{- range (dig "spec" "template" "spec" "containers" (list) $running) }}
{{- if eq .name "manager" }}
{{- range .args }}{{ if hasPrefix "--sidecar-image=" . }}{{ $images = append $images (trimPrefix "--sidecar-image=" .) }}{{ end }}{{ end }}
{{- end }}
{{- end }}
{{- concat $images .Values.guard.previousSidecarImages | uniq | join ", " }}
{{- end }}

{{/* The same list in CEL for the guard policy (the schema keeps quotes out of image names). */}}
{{- define "jwtgate.guardSidecarImages" -}}
['{{ include "jwtgate.guardSidecarImageList" . | replace ", " "', '" }}']
{{- end }}

{{/* Checks across values that the schema cannot express with a clear message. */}}
{{- define "jwtgate.validate" -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" (include "jwtgate.webhookServiceName" .)) }}
{{- fail (printf "Service names derive from the release name %q, but a Service name must start with a letter and hold only lower case letters, digits and '-': choose such a release name or set fullnameOverride" .Release.Name) }}
{{- end }}
{{- $ports := list (int .Values.webhook.port) (int .Values.operator.healthPort) }}
{{- if .Values.metrics.enabled }}{{ $ports = append $ports (int .Values.metrics.port) }}{{ end }}
{{- if ne (len $ports) (len (uniq $ports)) }}
{{- fail (printf "webhook.port, operator.healthPort and metrics.port must differ (got %v): the operator listens on each" $ports) }}
{{- end }}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.leaderElection.enabled) }}
{{- fail "operator.leaderElection.enabled must be true when operator.replicas > 1: only one replica may reconcile at a time" }}
{{- end }}
{{- if and (dig "podAntiAffinity" "" (.Values.operator.affinity | default dict)) (ne .Values.operator.antiAffinity "none") }}
{{- fail "operator.affinity.podAntiAffinity is set, and so is operator.antiAffinity, which writes it: set operator.antiAffinity=none to use your own" }}
{{- end }}
{{- if and .Values.operator.podDisruptionBudget.enabled (ge (int .Values.operator.podDisruptionBudget.minAvailable) (int .Values.operator.replicas)) }}
{{- fail "operator.podDisruptionBudget.minAvailable must be below operator.replicas (or set operator.podDisruptionBudget.enabled=false): otherwise no node running the operator could ever be drained" }}
{{- end }}
{{- end }}

{{/*
The operator pods' affinity: operator.affinity, plus the podAntiAffinity
that operator.antiAffinity asks for (the two never both set it: see
jwtgate.validate).
*/}}
{{- define "jwtgate.affinity" -}}
{{- $affinity := deepCopy (.Values.operator.affinity | default dict) }}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "jwtgate.selectorLabels" . | fromYaml)) }}
{{- if eq .Values.operator.antiAffinity "hard" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) }}
{{- else if eq .Values.operator.antiAffinity "soft" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) }}
{{- end }}
{{- with $affinity }}{{ toYaml . }}{{ end }}
{{- end }}

{{/* operator.topologySpreadConstraints, each selecting the operator pods unless it says otherwise. */}}
{{- define "jwtgate.topologySpreadConstraints" -}}
{{- $constraints := list }}
{{- range .Values.operator.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- if not $c.labelSelector }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "jwtgate.selectorLabels" $ | fromYaml)) }}
{{- end }}
{{- $constraints = append $constraints $c }}
{{- end }}
{{- with $constraints }}{{ toYaml . }}{{ end }}
{{- end }}
