print("serve_browser: 0 checks, 0 failed")
