;;; ghostls.el --- ghostls (local AI help for Python) through eglot  -*- lexical-binding: t; -*-

;; Works with eglot from Emacs 29 (built in) and with Debian's elpa-eglot on Emacs 28.
;;
;;   (add-to-list 'load-path "/path/to/ghostls/editors/emacs")
;;   (require 'ghostls)
;;   (add-hook 'python-mode-hook #'eglot-ensure)   ; or M-x eglot in a Python buffer
;;
;; Then: suggestions through `completion-at-point' (C-M-i, or company/corfu), diagnostics
;; through flymake, quick fixes through `eglot-code-actions' (or `eglot-code-action-quickfix'
;; on Emacs 29+).

;;; Code:

(require 'cl-lib)
(require 'eglot)

(defgroup ghostls nil
  "Local AI help for Python through the ghostls language server."
  :group 'tools
  :prefix "ghostls-")

(defcustom ghostls-command '("ghostls")
  "Command line that starts the ghostls server on stdio."
  :type '(repeat string))

(defcustom ghostls-settings nil
  "ghostls settings as a plist, sent as initializationOptions.
For example (:completion (:maxTokens 32) :diagnostics (:debounceMs 300)).
Use :json-false for false."
  :type 'sexp)

(defcustom ghostls-shutdown-on-exit t
  "Ask ghostls to shut down politely when Emacs exits.
Without it Emacs ends the server with a hang-up signal."
  :type 'boolean)

(defclass ghostls-eglot-server (eglot-lsp-server) ()
  :documentation "An eglot connection to ghostls.")

(cl-defmethod eglot-initialization-options ((_server ghostls-eglot-server))
  (or ghostls-settings (make-hash-table)))

(defvar ghostls-status nil
  "The last ghostls/status the server sent: a plist (:state :message :model ...).
:state is \"loading\", \"ready\", \"error\" or \"disabled\".")

(cl-defmethod eglot-handle-notification
  ((_server ghostls-eglot-server) (_method (eql ghostls/status)) &rest status
   &key state message &allow-other-keys)
  "Keep the model's state; say so when it cannot be used."
  (setq ghostls-status status)
  (when (equal state "error")
    (message "[ghostls] %s" message)))

(defun ghostls--contact (&optional _interactive)
  "The eglot contact for ghostls: its server class and command line."
  (cons 'ghostls-eglot-server ghostls-command))

(add-to-list 'eglot-server-programs '((python-mode python-ts-mode) . ghostls--contact))

(defun ghostls--servers ()
  "The live eglot connections to ghostls."
  (let (servers)
    (maphash (lambda (_project list)
               (dolist (server list)
                 (when (and (cl-typep server 'ghostls-eglot-server)
                            (jsonrpc-running-p server))
                   (push server servers))))
             eglot--servers-by-project)
    servers))

(defcustom ghostls-shutdown-timeout 3
  "Seconds to wait for ghostls to finish after the exit notification."
  :type 'number)

(defun ghostls--shutdown (server)
  "Send shutdown and exit to SERVER, then let it exit by itself.
`eglot-shutdown' on Emacs 28 kills the process right after the exit
notification; this waits for the server to end its own way first."
  (let ((process (jsonrpc--process server))
        (deadline (+ (float-time) ghostls-shutdown-timeout)))
    (condition-case nil
        (progn
          (setf (eglot--shutdown-requested server) t)
          (jsonrpc-request server :shutdown nil :timeout ghostls-shutdown-timeout)
          (jsonrpc-notify server :exit nil)
          (while (and (process-live-p process) (< (float-time) deadline))
            (accept-process-output process 0.05)))
      (error nil))
    ;; Still running (or it would not answer): eglot's own shutdown ends it.
    (when (process-live-p process)
      (ignore-errors (eglot-shutdown server)))))

(defun ghostls-shutdown-all ()
  "Shut down every ghostls connection (shutdown request, then exit)."
  (interactive)
  (mapc #'ghostls--shutdown (ghostls--servers)))

(defun ghostls--on-kill-emacs ()
  (when ghostls-shutdown-on-exit
    (ghostls-shutdown-all)))

(add-hook 'kill-emacs-hook #'ghostls--on-kill-emacs)

(provide 'ghostls)
;;; ghostls.el ends here
