import MailcredCore
// TEMPORARY until MailcredNet lands (not committed).
func verify(_ credential: Credential, secret: SecretBytes, options: LiveCheckOptions) async -> [CheckResult] { [] }
func printResult(_ result: CheckResult, account: String, provider: Provider?) {}
