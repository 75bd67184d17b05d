package controller

import (
	"os"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serviceAccountConfig creates a service account and returns a client
// configuration that authenticates as it with a real bound token, the way an
// injected sidecar reaches the API server.
func serviceAccountConfig(ns, name string) *rest.Config {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	Expect(k8sClient.Create(bg, sa)).To(Succeed())
	return tokenConfig(ns, name)
}

// tokenConfig authenticates as an existing service account with a bound token.
func tokenConfig(ns, name string) *rest.Config {
	cs := kubernetes.NewForConfigOrDie(cfg)
	exp := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(bg, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return &rest.Config{Host: cfg.Host, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData}}
}

// writeKubeconfig writes c (token or client-certificate authentication) as
// a kubeconfig file.
func writeKubeconfig(c *rest.Config, path string) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	kc.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: c.BearerToken, ClientCertificateData: c.CertData, ClientKeyData: c.KeyData}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "sa"}
	kc.CurrentContext = "envtest"
	Expect(clientcmd.WriteToFile(*kc, path)).To(Succeed())
	Expect(os.Chmod(path, 0o600)).To(Succeed())
}
