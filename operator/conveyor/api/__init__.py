"""pydantic models of Deployment and Execution, and the CRDs generated from them."""
