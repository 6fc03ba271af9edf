;;; ghostls-lsp-mode.el --- ghostls through lsp-mode  -*- lexical-binding: t; -*-

;; For lsp-mode users (eglot users: see ghostls.el).
;;
;;   (add-to-list 'load-path "/path/to/ghostls/editors/emacs")
;;   (require 'ghostls-lsp-mode)
;;   (add-hook 'python-mode-hook #'lsp-deferred)
;;
;; ghostls registers as an add-on: it runs next to another Python server (pyright, pylsp) if
;; you have one. Suggestions come through `completion-at-point' (company/corfu show them),
;; diagnostics through flycheck (or flymake with `lsp-diagnostics-provider' :flymake), quick
;; fixes through `lsp-execute-code-action'.

;;; Code:

(require 'lsp-mode)

(defgroup ghostls-lsp nil
  "ghostls through lsp-mode."
  :group 'lsp-mode
  :prefix "ghostls-lsp-")

(defcustom ghostls-lsp-command '("ghostls")
  "Command line that starts the ghostls server on stdio."
  :type '(repeat string))

(defcustom ghostls-lsp-settings nil
  "ghostls settings as a plist, sent as initializationOptions.
For example (:completion (:maxTokens 32)); use :json-false for false."
  :type 'sexp)

(defvar ghostls-lsp-status nil
  "The last ghostls/status notification: a hash table (state, message, model ...).")

(defun ghostls-lsp--on-status (_workspace params)
  (setq ghostls-lsp-status params)
  (when (equal (gethash "state" params) "error")
    (lsp-warn "ghostls: %s" (gethash "message" params))))

(add-to-list 'lsp-language-id-configuration '(python-mode . "python"))

(lsp-register-client
 (make-lsp-client
  :new-connection (lsp-stdio-connection (lambda () ghostls-lsp-command))
  :activation-fn (lsp-activate-on "python")
  :server-id 'ghostls
  :add-on? t
  :priority -1
  :initialization-options (lambda () (or ghostls-lsp-settings (make-hash-table)))
  :notification-handlers (let ((handlers (make-hash-table :test 'equal)))
                           (puthash "ghostls/status" #'ghostls-lsp--on-status handlers)
                           handlers)))

(provide 'ghostls-lsp-mode)
;;; ghostls-lsp-mode.el ends here
